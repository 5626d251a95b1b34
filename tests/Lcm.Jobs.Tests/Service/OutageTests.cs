using System.Diagnostics;
using Lcm.Cli;
using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// Storage goes away for at least 15 s under a running <c>lcm worker</c> process in the middle of a burst and
/// comes back with its data (Azurite on disk): the worker rides it out, and its readiness says when it cannot work.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class OutageTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private const int Jobs = 20;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Every_job_of_a_burst_succeeds_through_a_storage_outage_and_readiness_reports_it()
    {
        string location = Directory.CreateTempSubdirectory("lcm-azurite-").FullName;
        var azurite = await Azurite.StartAsync(location: location);
        var account = StorageAccount.FromConnectionString(azurite.ConnectionString);
        var names = fixture.NewNames();
        var client = new LcmJobClient(account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(200) });
        int healthPort = Azurite.FreePort();
        // A 5 s lease: the jobs whose storage calls failed mid-run come back soon after storage does.
        using var worker = CliProcess.StartWorker(azurite.ConnectionString, names, fixture.ModelPath, output,
            new Dictionary<string, string> { ["LCM_MESSAGE_LEASE_SECONDS"] = "5" }, ["--health-port", $"{healthPort}"]);
        try
        {
            Assert.Equal("alive", (await HealthProbe.WaitForAsync(healthPort, "/healthz", 200)).GetProperty("status").GetString());
            Assert.Equal("receiving", (await HealthProbe.WaitForAsync(healthPort, "/readyz", 200)).GetProperty("state").GetString());

            // 512x512 in 4 steps: the burst takes a few seconds, so storage goes while most of it is queued or running.
            var submitted = await Task.WhenAll(Enumerable.Range(0, Jobs).Select(i =>
                client.SubmitAsync(new JobRequest { Prompt = $"a burst through an outage, job {i}", Seed = i })));
            int doneBefore = await WaitUntilAnyFinishedAsync(client, submitted.Select(s => s.Id));

            azurite.Stop();
            var outage = Stopwatch.StartNew();
            // A worker busy with jobs learns of the outage when a storage call fails after the SDK's own retries (seconds).
            var notReady = await HealthProbe.WaitForAsync(healthPort, "/readyz", 503, TimeSpan.FromSeconds(60));
            output.WriteLine($"storage stopped with {doneBefore} of {Jobs} jobs finished; /readyz 503 after {outage.Elapsed.TotalSeconds:F1} s: {notReady}");
            Assert.Equal("storage_unreachable", notReady.GetProperty("state").GetString());
            Assert.Equal(200, (await HealthProbe.GetAsync(healthPort, "/healthz")).Code);
            if (outage.Elapsed < Outage) await Task.Delay(Outage - outage.Elapsed);
            Assert.False(worker.HasExited, worker.Stderr);

            var down = outage.Elapsed;
            await azurite.RestartAsync();
            var restarted = Stopwatch.StartNew();
            // The receive loop's backoff (up to 30 s) decides when the worker tries again.
            await HealthProbe.WaitForAsync(healthPort, "/readyz", 200, TimeSpan.FromSeconds(60));
            output.WriteLine($"storage down {down.TotalSeconds:F1} s, restarted in {(outage.Elapsed - down - restarted.Elapsed).TotalSeconds:F1} s; " +
                $"/readyz 200 again {restarted.Elapsed.TotalSeconds:F1} s after the restart");

            var finished = new List<JobStatus>();
            foreach (var job in submitted)
            {
                var status = await client.WaitForCompletionAsync(job.Id, TimeSpan.FromSeconds(90));
                finished.Add(status);
                Assert.True(status.Status == JobState.Succeeded, $"job {job.Id}: {status.Status} {status.Error?.Code} {status.Error?.Message}");
                // Exactly its images: one, under its own id, whatever a run cut short by the outage had uploaded.
                Assert.Equal([$"{job.Id}/0.png"], await account.ImageBlobsAsync(job.Id));
            }
            output.WriteLine($"all {Jobs} jobs succeeded {restarted.Elapsed.TotalSeconds:F1} s after storage came back: {JobFigures.Of(finished)}; " +
                $"attempts per job: {string.Join(",", finished.Select(s => s.Attempts))}");
            // A message whose delete was cut off comes back after its lease, finds its job finished and is deleted.
            await account.WaitUntilEmptyAsync(names.JobsQueue);
            Assert.Equal(0, await account.MessageCountAsync(names.PoisonQueue));
            Assert.False(worker.HasExited, worker.Stderr);
        }
        finally
        {
            worker.Kill();
            // Azurite first: it writes its files until it has stopped.
            azurite.Dispose();
            Directory.Delete(location, recursive: true);
        }
    }

    /// <summary>Polls until at least one of the jobs has a final status; returns how many have.</summary>
    private static async Task<int> WaitUntilAnyFinishedAsync(LcmJobClient client, IEnumerable<string> ids)
    {
        var deadline = DateTime.UtcNow + ServiceStorage.Timeout;
        while (DateTime.UtcNow < deadline)
        {
            var statuses = await Task.WhenAll(ids.Select(id => client.GetStatusAsync(id)));
            int finished = statuses.Count(s => s!.IsTerminal);
            if (finished > 0) return finished;
            await Task.Delay(50);
        }
        throw new TimeoutException("no job of the burst finished");
    }
}
