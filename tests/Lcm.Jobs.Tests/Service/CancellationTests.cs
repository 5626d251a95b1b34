using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Cancels by a client: of a job still in the queue, and of one a worker is running.</summary>
[Collection(ServiceCollection.Name)]
public sealed class CancellationTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Queued_job_canceled_before_any_worker_runs_stays_canceled()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "never mind", Width = 64, Height = 64 });

        var canceled = await client.CancelAsync(submitted.Id);
        Assert.Equal(JobState.Canceled, canceled.Status);
        Assert.Equal(1, await fixture.MessageCountAsync(names.JobsQueue));

        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        Assert.Equal((submitted.Id, "canceled"), (completed.GetProperty("id").GetString(), completed.GetProperty("status").GetString()));
        Assert.Empty(completed.GetProperty("images").EnumerateArray());
        var status = (await client.GetStatusAsync(submitted.Id))!;
        Assert.Equal(JobState.Canceled, status.Status);
        Assert.Equal("canceled", status.Error!.Code);
        Assert.Equal(0, status.Attempts);
        Assert.Null(status.StartedAt);
        Assert.Empty(status.Images);
        Assert.Empty(await fixture.ImageBlobsAsync(submitted.Id));
        Assert.Equal(0, worker.Log.Count("running"));
        // Canceling a finished job changes nothing.
        Assert.Equal(status.Json(), (await client.CancelAsync(submitted.Id)).Json());
    }

    [Fact]
    public async Task Running_job_canceled_by_a_client_stops_and_leaves_no_images()
    {
        var names = fixture.NewNames();
        // The local worker as `lcm worker` configures it, looking for a cancel every 200 ms.
        var environment = new Dictionary<string, string>
        {
            ["LCM_JOBS_QUEUE"] = names.JobsQueue,
            ["LCM_RESULTS_QUEUE"] = names.ResultsQueue!,
            ["LCM_CANCEL_POLL_MS"] = "200",
            ["LCM_EXECUTION_PROVIDER"] = "cpu",
            ["LCM_MEMORY_BUDGET_MB"] = SlowJob.MemoryBudgetMb.ToString(),
            ["LCM_HOST_JSON"] = Path.Combine(AppContext.BaseDirectory, "host.json"),
        };
        var settings = WorkerSettings.FromEnvironment(environment.GetValueOrDefault);
        Assert.Equal(TimeSpan.FromMilliseconds(200), settings.Processor.CancelPollInterval);
        Assert.Equal(names, settings.Names);
        await using var worker = await TestWorker.StartLocalAsync(fixture, settings, output);
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        var submitted = await client.SubmitAsync(SlowJob.Request("cancel me while I run"));

        await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
        var canceled = await client.CancelAsync(submitted.Id);
        Assert.Equal(JobState.Canceled, canceled.Status);

        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        await worker.StopAsync();

        Assert.Equal((submitted.Id, "canceled"), (completed.GetProperty("id").GetString(), completed.GetProperty("status").GetString()));
        var status = (await client.GetStatusAsync(submitted.Id))!;
        output.WriteLine(status.Json());
        Assert.Equal(JobState.Canceled, status.Status);
        Assert.Equal(1, status.Attempts);
        Assert.Empty(status.Images);
        Assert.Empty(await fixture.ImageBlobsAsync(submitted.Id));
        Assert.Equal(1, worker.Log.Count("canceled after"));
        Assert.Equal(0, worker.Log.Count("succeeded"));
    }

    [Fact]
    public async Task Cancel_landing_after_the_images_are_made_still_cancels_and_is_announced()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        string id = "late-" + Guid.NewGuid().ToString("N")[..8];
        // The client cancels just as generation ends; the worker does not look again (a 10 minute poll), so it
        // uploads the images and learns of the cancel only when its final status write loses to the client's.
        var generator = new CancelAfterGenerating(fixture.Engine, () => client.CancelAsync(id));
        await using var worker = await TestWorker.StartAsync(fixture, names, output, generator,
            processor: TestWorker.FastProcessor with { CancelPollInterval = TimeSpan.FromMinutes(10) });

        await client.SubmitAsync(new JobRequest { Id = id, Prompt = "too late to stop", Width = 64, Height = 64, Steps = 2 });
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        var status = (await client.GetStatusAsync(id))!;
        output.WriteLine(status.Json());
        Assert.Equal(JobState.Canceled, status.Status);
        Assert.Empty(status.Images);
        Assert.Empty(await fixture.ImageBlobsAsync(id));
        // The client's cancel sends no event: the worker that found the job canceled must, before it deletes the message.
        Assert.Equal(1, await fixture.MessageCountAsync(names.ResultsQueue!));
        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        Assert.Equal((id, "canceled"), (completed.GetProperty("id").GetString(), completed.GetProperty("status").GetString()));
    }

    /// <summary>A generator double that lets a client cancel the job right after the real engine made its images.</summary>
    private sealed class CancelAfterGenerating(Lcm.Engine.Pipelines.IImageGenerator inner, Func<Task> cancel) : Lcm.Engine.Pipelines.IImageGenerator
    {
        public Lcm.Engine.Pipelines.EngineCapabilities Capabilities => inner.Capabilities;

        public void Validate(Lcm.Engine.Pipelines.GenerationRequest request) => inner.Validate(request);

        public async Task<Lcm.Engine.Pipelines.GenerationResult> GenerateAsync(Lcm.Engine.Pipelines.GenerationRequest request,
            IProgress<Lcm.Engine.Pipelines.StepProgress>? progress, CancellationToken cancellationToken)
        {
            var result = await inner.GenerateAsync(request, progress, cancellationToken);
            await cancel();
            return result;
        }
    }
}
