using System.Diagnostics;
using Lcm.Cli;
using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Storage goes away under a running <c>lcm worker</c> process and comes back: the worker rides it out.</summary>
[Collection(ServiceCollection.Name)]
public sealed class OutageTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task The_worker_survives_a_storage_outage_and_takes_jobs_again_afterwards()
    {
        string location = Directory.CreateTempSubdirectory("lcm-azurite-").FullName;
        using var azurite = await Azurite.StartAsync(location: location);
        var account = StorageAccount.FromConnectionString(azurite.ConnectionString);
        var names = fixture.NewNames();
        var client = new LcmJobClient(account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(200) });
        using var worker = CliProcess.StartWorker(azurite.ConnectionString, names, fixture.ModelPath, output);
        try
        {
            var before = await client.SubmitAsync(new JobRequest { Prompt = "before the outage", Width = 64, Height = 64, Steps = 1 });
            Assert.Equal(JobState.Succeeded, (await client.WaitForCompletionAsync(before.Id, ServiceStorage.Timeout)).Status);

            azurite.Stop();
            await Task.Delay(TimeSpan.FromSeconds(15));
            Assert.False(worker.HasExited, worker.Stderr);
            await azurite.RestartAsync();
            var restarted = Stopwatch.StartNew();
            // A killed Azurite may lose the metadata it had not flushed yet (real storage does not); put the queues and containers back.
            await StorageSetup.EnsureCreatedAsync(account, names);

            var after = await client.SubmitAsync(new JobRequest { Prompt = "after the outage", Width = 64, Height = 64, Steps = 1 });
            var done = await client.WaitForCompletionAsync(after.Id, TimeSpan.FromSeconds(90));
            output.WriteLine($"outage 15 s; the first job after it finished {restarted.Elapsed.TotalSeconds:F1} s after storage came back");

            Assert.Equal(JobState.Succeeded, done.Status);
            Assert.False(worker.HasExited, worker.Stderr);
        }
        finally
        {
            worker.Kill();
            Directory.Delete(location, recursive: true);
        }
    }
}
