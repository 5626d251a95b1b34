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
        using (var process = CliProcess.StartWorker(fixture.ConnectionString, names, fixture.ModelPath, output,
            new Dictionary<string, string> { ["LCM_MESSAGE_LEASE_SECONDS"] = "3" }))
        {
            running = await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
            await process.WaitForStderrAsync("running (attempt 1)", ServiceStorage.Timeout);
            Assert.False(process.HasExited, process.Stderr);
            process.Kill();
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
    public async Task Lcm_worker_on_sigterm_lets_its_running_job_finish_within_the_grace_and_exits_0()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var submitted = await client.SubmitAsync(SlowJob.Request("a job finishing during a docker stop"));

        // The default grace (LCM_SHUTDOWN_GRACE_SECONDS 110) is far longer than this job.
        using (var process = CliProcess.StartWorker(fixture.ConnectionString, names, fixture.ModelPath, output))
        {
            await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
            process.Terminate();
            await process.WaitForExitAsync(ServiceStorage.Timeout);
            Assert.True(process.ExitCode == 0, process.Stderr);
            Assert.Contains("1 running job(s) get up to 110 s to finish", process.Stderr);
            Assert.DoesNotContain("handed back", process.Stderr);
        }
        // Finished by the worker that was stopping, once: nothing was left for another.
        var status = (await fixture.Statuses.GetAsync(submitted.Id))!.Status;
        Assert.Equal((JobState.Succeeded, 1), (status.Status, status.Attempts));
        Assert.Equal(status.Images.Select(i => i.Blob), await fixture.ImageBlobsAsync(submitted.Id));
        Assert.Equal(0, await fixture.MessageCountAsync(names.JobsQueue));
    }

    [Fact]
    public async Task Lcm_worker_on_sigterm_hands_back_a_job_that_outlasts_the_grace_and_exits_0()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var submitted = await client.SubmitAsync(SlowJob.Request("a job outliving a docker stop"));

        // A grace of 0, which every running job outlasts (the in-process lease test waits out a grace of 1 s);
        // the default 60 s lease: only the hand-back can make the message visible again soon.
        using (var process = CliProcess.StartWorker(fixture.ConnectionString, names, fixture.ModelPath, output,
            new Dictionary<string, string> { ["LCM_SHUTDOWN_GRACE_SECONDS"] = "0" }))
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
        // A grace of 1 s at the stop, which the job outlasts by minutes: handed back once it is over.
        var first = await TestWorker.StartAsync(fixture, names, output, new DelayedGenerator(fixture.Engine, TimeSpan.FromMinutes(5)),
            lease: lease, name: "first", shutdownGrace: TimeSpan.FromSeconds(1));
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
        Assert.Equal(1, first.Log.Count("1 running job(s) get up to 1 s to finish"));
        Assert.Equal(1, first.Log.Count("handed back at shutdown"));

        // The renewed and handed-back message still reads as the job: its text survived the updates.
        await using var second = await TestWorker.StartAsync(fixture, names, output, name: "second");
        var status = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        Assert.Equal((JobState.Succeeded, 2, "a long job on a short lease"), (status.Status, status.Attempts, status.Request!.Prompt));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
    }

    [Fact]
    public async Task A_full_worker_stopped_gives_its_running_jobs_the_grace_and_no_more()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var jobs = await Task.WhenAll(Enumerable.Range(0, 2).Select(i =>
            client.SubmitAsync(new JobRequest { Prompt = $"a long job in a full worker {i}", Width = 64, Height = 64, Steps = 1 })));
        // Two messages at a time (batch 1 + 1 more), both held by jobs that wait minutes: the worker takes no more.
        var queue = TestWorker.FastQueue with { BatchSize = 1, NewBatchThreshold = 1 };
        var worker = await TestWorker.StartAsync(fixture, names, output, new DelayedGenerator(fixture.Engine, TimeSpan.FromMinutes(5)),
            queue, name: "full", shutdownGrace: TimeSpan.FromSeconds(1));
        await using (worker)
        {
            foreach (var job in jobs) await fixture.WaitForStatusAsync(job.Id, s => s.Status != JobState.Queued);
            // Bounded by TestWorker's 60 s wait: a stop that waited for a job to end first would take 5 minutes.
            await worker.StopAsync();
        }
        Assert.Equal(1, worker.Log.Count("2 running job(s) get up to 1 s to finish"));
        Assert.Equal(2, worker.Log.Count("handed back at shutdown"));
        Assert.Equal(2, (await fixture.Queue(names.JobsQueue).PeekMessagesAsync(32)).Value.Length);
    }

    [Fact]
    public async Task Two_workers_share_a_hundred_jobs_sent_at_once_without_losing_or_repeating_one()
    {
        const int jobs = 100;
        var names = fixture.NewNames();
        using var secondEngine = LcmEngine.Load(fixture.ModelPath, AzuriteFixture.EngineOptions);
        await using var a = await TestWorker.StartAsync(fixture, names, output, name: "A");
        await using var b = await TestWorker.StartAsync(fixture, names, output, secondEngine, name: "B");
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });

        var submitted = await Task.WhenAll(Enumerable.Range(0, jobs).Select(i =>
            client.SubmitAsync(new JobRequest { Prompt = $"burst job {i}", Width = 64, Height = 64, Steps = 1, Seed = i })));
        var ids = submitted.Select(s => s.Id).ToList();

        var events = await fixture.ReceiveEventsAsync(names.ResultsQueue!, jobs);
        var finished = new List<JobStatus>();
        foreach (string id in ids)
        {
            var status = await fixture.WaitForTerminalAsync(id);
            finished.Add(status);
            Assert.Equal(JobState.Succeeded, status.Status);
            Assert.Equal([$"{id}/0.png"], await fixture.ImageBlobsAsync(id));
        }
        var figures = Lcm.Cli.JobFigures.Of(finished);
        output.WriteLine($"two workers, {jobs} jobs sent at once (64x64, 1 step): {figures}");
        Assert.Equal(ids.Order(), events.Select(e => e.GetProperty("id").GetString()!).Order());
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
        // No lease ran out and no delivery was repeated: one attempt per job.
        Assert.Equal(jobs, figures.Attempts);
        await a.StopAsync();
        await b.StopAsync();

        int byA = a.Log.Count("running (attempt 1)"), byB = b.Log.Count("running (attempt 1)");
        output.WriteLine($"A ran {byA} jobs, B ran {byB}");
        Assert.Equal(jobs, byA + byB);
        Assert.True(byA > 0 && byB > 0, $"both workers should have taken jobs: A {byA}, B {byB}");
    }
}
