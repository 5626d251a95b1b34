using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;

namespace Lcm.Tests.Storage;

/// <summary>Settings read as the Functions host reads them; identity-based connections need no key.</summary>
public class StorageSettingsTests
{
    private static Func<string, string?> Settings(params (string Key, string Value)[] values) =>
        key => values.FirstOrDefault(v => v.Key == key).Value;

    [Fact]
    public void Account_name_gives_identity_based_clients_on_the_public_endpoints()
    {
        var account = StorageAccount.FromSettings(Settings(("AzureWebJobsStorage__accountName", "lcmstore"), ("AzureWebJobsStorage__clientId", "00000000-0000-0000-0000-000000000001")));
        Assert.Equal(new Uri("https://lcmstore.blob.core.windows.net/"), account.Blobs.Uri);
        Assert.Equal(new Uri("https://lcmstore.queue.core.windows.net/"), account.Queues.Uri);
        // No key: SAS URLs must come from a user delegation key, never from a shared key.
        Assert.False(account.Blobs.CanGenerateAccountSasUri);
    }

    [Fact]
    public void Service_uris_win_over_the_account_name()
    {
        var account = StorageAccount.FromSettings(Settings(
            ("AzureWebJobsStorage__blobServiceUri", "https://blobs.example.net"),
            ("AzureWebJobsStorage__queueServiceUri", "https://queues.example.net")));
        Assert.Equal("blobs.example.net", account.Blobs.Uri.Host);
        Assert.Equal("queues.example.net", account.Queues.Uri.Host);
    }

    [Fact]
    public void A_connection_string_holds_the_key_and_can_sign()
    {
        var account = StorageAccount.FromSettings(Settings(("AzureWebJobsStorage", "UseDevelopmentStorage=true")));
        Assert.True(account.Blobs.CanGenerateAccountSasUri);
    }

    [Fact]
    public void Missing_storage_settings_name_what_to_set()
    {
        var error = Assert.Throws<ArgumentException>(() => StorageAccount.FromSettings(Settings()));
        Assert.Contains("AzureWebJobsStorage__accountName", error.Message);
    }

    [Fact]
    public void Queue_names_and_switches_come_from_settings()
    {
        var names = StorageNames.FromSettings(Settings(("LCM_JOBS_QUEUE", "my-jobs"), ("LCM_RESULTS_QUEUE", "my-results")));
        Assert.Equal(("my-jobs", "my-jobs-poison", "my-results"), (names.JobsQueue, names.PoisonQueue, names.ResultsQueue));
        Assert.Null(StorageNames.FromSettings(Settings(("LCM_PUBLISH_RESULTS", "false"))).ResultsQueue);
        Assert.Contains("LCM_JOBS_QUEUE", Assert.Throws<ArgumentException>(() => StorageNames.FromSettings(Settings(("LCM_JOBS_QUEUE", "Bad_Name")))).Message);
    }

    [Fact]
    public void Worker_settings_parse_and_refuse_bad_values_by_name()
    {
        var settings = WorkerSettings.FromEnvironment(Settings(("LCM_MESSAGE_LEASE_SECONDS", "5"), ("LCM_CANCEL_POLL_MS", "200"), ("LCM_SAS_MINUTES", "30"), ("LCM_HOST_JSON", HostJson())));
        Assert.Equal(TimeSpan.FromSeconds(5), settings.MessageLease);
        Assert.Equal(TimeSpan.FromMilliseconds(200), settings.Processor.CancelPollInterval);
        Assert.Equal(TimeSpan.FromMinutes(30), settings.Processor.SasLifetime);
        Assert.Equal(5, settings.Queue.MaxDequeueCount);
        Assert.Contains("LCM_MESSAGE_LEASE_SECONDS", Assert.Throws<ArgumentException>(() => WorkerSettings.FromEnvironment(Settings(("LCM_MESSAGE_LEASE_SECONDS", "soon")))).Message);
        Assert.Contains("LCM_EXECUTION_PROVIDER", Assert.Throws<ArgumentException>(() => WorkerSettings.FromEnvironment(Settings(("LCM_EXECUTION_PROVIDER", "tpu")))).Message);
    }

    private static string HostJson() => Path.Combine(AppContext.BaseDirectory, "host.json");
}
