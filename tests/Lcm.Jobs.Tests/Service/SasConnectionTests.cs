using Azure.Storage;
using Azure.Storage.Sas;
using Lcm.Cli;
using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>A worker connected with a SAS connection string never hands its own SAS to callers.</summary>
[Collection(ServiceCollection.Name)]
public sealed class SasConnectionTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_workers_own_sas_reaches_neither_the_status_nor_the_event()
    {
        var names = fixture.NewNames();
        var sas = new AccountSasBuilder(AccountSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1), AccountSasServices.Blobs | AccountSasServices.Queues, AccountSasResourceTypes.All)
            .ToSasQueryParameters(new StorageSharedKeyCredential(Azurite.AccountName, Azurite.AccountKey)).ToString();
        var account = fixture.Account;
        string connection = $"BlobEndpoint={account.Blobs.Uri};QueueEndpoint={account.Queues.Uri};SharedAccessSignature={sas}";
        using var worker = CliProcess.StartWorker(connection, names, fixture.ModelPath, output);
        try
        {
            var client = new LcmJobClient(account, new LcmJobClientOptions { Names = names });
            var submitted = await client.SubmitAsync(new JobRequest { Prompt = "a signed cat", Width = 64, Height = 64, Steps = 1 });
            var stored = await fixture.WaitForTerminalAsync(submitted.Id);
            var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));

            Assert.Equal(JobState.Succeeded, stored.Status);
            string signature = System.Web.HttpUtility.ParseQueryString(sas)["sig"]!;
            Assert.DoesNotContain("sig=", stored.Images[0].Url);
            Assert.DoesNotContain(Uri.EscapeDataString(signature), completed.GetRawText());
            Assert.DoesNotContain(signature, completed.GetRawText());
        }
        finally
        {
            worker.Kill();
        }
    }
}
