using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Workers that die, stop, or share a queue: no job is lost and none is done twice over.</summary>
[Collection(ServiceCollection.Name)]
public sealed class WorkerLifecycleTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Job_of_a_killed_worker_process_is_completed_by_another_after_the_lease_expires()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        // No seed: the attempt after the crash must draw the one the first attempt chose.
        var submitted = await client.SubmitAsync(SlowJob.Request("a job outliving its worker", seed: null));

        // `lcm worker` in its own process, holding messages for 3 s at a time (renewed while the job runs).
        JobStatus running;
        using (var process = CliProcess.Start(["worker", "--connection", fixture.ConnectionString], new Dictionary<string, string>
        {
            ["LCM_MODEL_PATH"] = fixture.ModelPath,
            ["LCM_JOBS_QUEUE"] = names.JobsQueue,
            ["LCM_RESULTS_QUEUE"] = names.ResultsQueue!,
            ["LCM_MESSAGE_LEASE_SECONDS"] = "3",
            ["LCM_HOST_JSON"] = Path.Combine(AppContext.BaseDirectory, "host.json"),
        }, output: output))
        {
            running = await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
            Assert.False(process.HasExited, process.Stderr);
            process.Kill();
            Assert.Contains("running (attempt 1)", process.Stderr);
        }
        Assert.Equal((JobState.Running, 1), (running.Status, running.Attempts));
        long seed = running.Request!.Seed!.Value;
        // Nothing finished it: no handler ran in the killed process.
        Assert.Equal(JobState.Running, (await fixture.Statuses.GetAsync(submitted.Id))!.Status.Status);

        await using var second = await TestWorker.StartLocalAsync(fixture, TestWorker.Settings(names), output, name: "second");
        var status = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        output.WriteLine(status.Json());
        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Equal(2, status.Attempts);
        Assert.Equal(SlowJob.Count, status.Images.Count);
        Assert.Equal(seed, status.Request!.Seed);
        Assert.Equal([seed, seed + 1], status.Images.Select(i => i.Seed));
        // Exactly one image set, whatever the killed worker had uploaded.
        Assert.Equal(status.Images.Select(i => i.Blob), await fixture.ImageBlobsAsync(submitted.Id));
        foreach (var image in status.Images)
            ServiceStorage.AssertImage(await fixture.DownloadImageAsync(image.Blob), "PNG", SlowJob.Size, SlowJob.Size);
        Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    [Fact]
    public async Task Stopping_a_worker_hands_its_running_job_back_for_another_to_complete()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var submitted = await client.SubmitAsync(SlowJob.Request("a job outliving a graceful stop"));

        var first = await TestWorker.StartAsync(fixture, names, output, name: "first");
        await using (first)
        {
            await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
            await first.StopAsync();
        }
        Assert.Equal(1, first.Log.Count("handed back at shutdown"));
        var handedBack = (await fixture.Statuses.GetAsync(submitted.Id))!.Status;
        Assert.Equal((JobState.Running, 1), (handedBack.Status, handedBack.Attempts));
        // Back in the queue at once, not after the lease: visible to the next receive.
        var visible = Assert.Single((await fixture.Queue(names.JobsQueue).PeekMessagesAsync(32)).Value);
        Assert.Equal(1, visible.DequeueCount);

        await using var second = await TestWorker.StartAsync(fixture, names, output, name: "second");
        var status = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Equal(2, status.Attempts);
        Assert.Equal(status.Images.Select(i => i.Blob), await fixture.ImageBlobsAsync(submitted.Id));
        ServiceStorage.AssertImage(await fixture.DownloadImageAsync(status.Images[0].Blob), "PNG", SlowJob.Size, SlowJob.Size);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
    }

    [Fact]
    public async Task Lcm_worker_on_sigterm_hands_its_running_job_back_and_exits_0()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var submitted = await client.SubmitAsync(SlowJob.Request("a job outliving a docker stop"));

        // The default 60 s lease: only the hand-back can make the message visible again soon.
        using (var process = CliProcess.Start(["worker", "--connection", fixture.ConnectionString], new Dictionary<string, string>
        {
            ["LCM_MODEL_PATH"] = fixture.ModelPath,
            ["LCM_JOBS_QUEUE"] = names.JobsQueue,
            ["LCM_RESULTS_QUEUE"] = names.ResultsQueue!,
            ["LCM_HOST_JSON"] = Path.Combine(AppContext.BaseDirectory, "host.json"),
        }, output: output))
        {
            await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
            process.Terminate();
            await process.WaitForExitAsync(ServiceStorage.Timeout);
            Assert.True(process.ExitCode == 0, process.Stderr);
            Assert.Contains("handed back at shutdown", process.Stderr);
            Assert.Contains("Worker stopped", process.Stderr);
        }
        var handedBack = (await fixture.Statuses.GetAsync(submitted.Id))!.Status;
        Assert.Equal((JobState.Running, 1), (handedBack.Status, handedBack.Attempts));
        Assert.Single((await fixture.Queue(names.JobsQueue).PeekMessagesAsync(32)).Value);

        await using var second = await TestWorker.StartAsync(fixture, names, output, name: "second");
        var status = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        Assert.Equal((JobState.Succeeded, 2), (status.Status, status.Attempts));
        Assert.Equal(status.Images.Select(i => i.Blob), await fixture.ImageBlobsAsync(submitted.Id));
    }

    [Fact]
    public async Task Lease_is_renewed_while_a_long_job_runs_and_the_renewed_message_is_still_whole()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "a long job on a short lease", Width = 64, Height = 64, Steps = 2 });
        // A 3 s lease (as LCM_MESSAGE_LEASE_SECONDS=3), renewed every 1.5 s, on a job that waits far longer before it generates.
        var lease = TimeSpan.FromSeconds(3);
        var first = await TestWorker.StartAsync(fixture, names, output, new DelayedGenerator(fixture.Engine, TimeSpan.FromMinutes(5)),
            lease: lease, name: "first");
        await using (first)
        {
            await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
            // Over two leases: unrenewed, the message would be visible again and this worker would take it a second time.
            await Task.Delay(2 * lease + TimeSpan.FromMilliseconds(500));
            Assert.Empty((await fixture.Queue(names.JobsQueue).PeekMessagesAsync(32)).Value);
            Assert.Equal(1, await fixture.MessageCountAsync(names.JobsQueue));
            await first.StopAsync();
        }
        Assert.Equal(1, first.Log.Count("running (attempt"));
        Assert.Equal(0, first.Log.Count("Renewing the lease"));
        Assert.Equal(1, first.Log.Count("handed back at shutdown"));

        // The renewed and handed-back message still reads as the job: its text survived the updates.
        await using var second = await TestWorker.StartAsync(fixture, names, output, name: "second");
        var status = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        Assert.Equal((JobState.Succeeded, 2, "a long job on a short lease"), (status.Status, status.Attempts, status.Request!.Prompt));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
    }

    [Fact]
    public async Task Two_workers_share_a_burst_of_twenty_jobs_without_losing_or_repeating_one()
    {
        var names = fixture.NewNames();
        // The host.json settings: one message at a time plus one more fetched, so a burst spreads over workers.
        var queue = TestWorker.FastQueue with { BatchSize = 1, NewBatchThreshold = 1 };
        using var secondEngine = LcmEngine.Load(fixture.ModelPath, AzuriteFixture.EngineOptions);
        await using var a = await TestWorker.StartAsync(fixture, names, output, queue: queue, name: "A");
        await using var b = await TestWorker.StartAsync(fixture, names, output, secondEngine, queue, name: "B");
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });

        var ids = new List<string>();
        for (int i = 0; i < 20; i++)
            ids.Add((await client.SubmitAsync(new JobRequest { Prompt = $"burst job {i}", Width = 64, Height = 64, Steps = 2, Seed = i })).Id);

        var events = await fixture.ReceiveEventsAsync(names.ResultsQueue!, 20);
        foreach (string id in ids)
        {
            var status = await fixture.WaitForTerminalAsync(id);
            Assert.Equal(JobState.Succeeded, status.Status);
            Assert.Equal(1, status.Attempts);
            Assert.Equal([$"{id}/0.png"], await fixture.ImageBlobsAsync(id));
        }
        Assert.Equal(ids.Order(), events.Select(e => e.GetProperty("id").GetString()!).Order());
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        await a.StopAsync();
        await b.StopAsync();

        int byA = a.Log.Count("running (attempt 1)"), byB = b.Log.Count("running (attempt 1)");
        output.WriteLine($"A ran {byA} jobs, B ran {byB}");
        Assert.Equal(20, byA + byB);
        Assert.True(byA > 0 && byB > 0, $"both workers should have taken jobs: A {byA}, B {byB}");
    }
}
