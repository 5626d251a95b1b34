using Lcm.Client;
using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary>The storage account of the service commands: --connection, else the AzureWebJobsStorage settings, else local Azurite on its default ports.</summary>
internal static class CliStorage
{
    public const string DevelopmentStorage = "UseDevelopmentStorage=true";

    public static StorageAccount Account(string? connection)
    {
        if (connection is not null) return StorageAccount.FromConnectionString(connection);
        bool configured = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Any(k => k.StartsWith(StorageAccount.ConnectionSetting, StringComparison.Ordinal));
        return configured ? StorageAccount.FromSettings(Environment.GetEnvironmentVariable) : StorageAccount.FromConnectionString(DevelopmentStorage);
    }

    public static LcmJobClient Client(string? connection) =>
        new(Account(connection), new LcmJobClientOptions
        {
            Names = StorageNames.FromSettings(Environment.GetEnvironmentVariable),
            Webhooks = WebhookPolicy.FromSettings(Environment.GetEnvironmentVariable),
        });

    public static void Print(JobStatus status) => Console.WriteLine(System.Text.Encoding.UTF8.GetString(status.ToJson()));
}
