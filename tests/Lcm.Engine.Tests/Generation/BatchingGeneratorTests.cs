using System.Diagnostics;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Generation;

/// <summary>Dynamic batching: jobs that arrive together share a UNet batch and get the images they would get alone.</summary>
public sealed class BatchingGeneratorTests(TestModels models) : IClassFixture<TestModels>
{
    private static GenerationRequest Request(long seed, int size = 64, int count = 1) =>
        new() { Prompt = $"a photo of a cat {seed}", Width = size, Height = size, Seed = seed, Steps = 2, Count = count };

    [Fact]
    public async Task Requests_that_arrive_together_run_as_one_batch_with_their_single_run_images()
    {
        await using var batching = new BatchingGenerator(models.Engine(float16: false), new BatchingOptions { MaxImages = 4, MaxWait = TimeSpan.FromSeconds(2) }, NullLogger.Instance);
        var requests = new[] { Request(1), Request(2, count: 2), Request(3) };
        var results = await Task.WhenAll(requests.Select(r => batching.GenerateAsync(r, null, CancellationToken.None)));

        // One batch: every result carries the same shared timings.
        Assert.All(results, r => Assert.Same(results[0].Timings, r.Timings));
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = models.Engine(float16: false).Generate(requests[i]);
            Assert.Equal(alone.Images.Count, results[i].Images.Count);
            for (int j = 0; j < alone.Images.Count; j++) Images.AssertSameImage(alone.Images[j], results[i].Images[j]);
        }
    }

    [Fact]
    public async Task A_batch_runs_in_its_first_jobs_trace_and_links_the_others()
    {
        using var jobs = new ActivitySource("LcmFunctions.Tests.Jobs");
        var ended = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is LcmTelemetry.Name or "LcmFunctions.Tests.Jobs",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = ended.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var batching = new BatchingGenerator(models.Engine(float16: false), new BatchingOptions { MaxImages = 2, MaxWait = TimeSpan.FromSeconds(2) }, NullLogger.Instance);
        Task<GenerationResult> first, second;
        ActivityContext firstJob, secondJob;
        using (var job = jobs.StartActivity("first job")) (firstJob, first) = (job!.Context, batching.GenerateAsync(Request(1), null, CancellationToken.None));
        using (var job = jobs.StartActivity("second job")) (secondJob, second) = (job!.Context, batching.GenerateAsync(Request(2), null, CancellationToken.None));
        await Task.WhenAll(first, second);

        var trace = ended.Where(a => a.TraceId == firstJob.TraceId).ToArray();
        var batch = Assert.Single(trace, a => a.DisplayName == "lcm.batch");
        Assert.Equal(firstJob.SpanId, batch.ParentSpanId);
        Assert.Equal([secondJob.TraceId], batch.Links.Select(l => l.Context.TraceId));
        var generate = Assert.Single(trace, a => a.DisplayName == "lcm.generate");
        Assert.Equal((batch.SpanId, 2), (generate.ParentSpanId, (int)generate.GetTagItem("lcm.images")!));
        Assert.Equal(2, trace.Count(a => a.DisplayName == "lcm.unet_step" && a.ParentSpanId == generate.SpanId));
    }

    [Fact]
    public async Task Different_sizes_run_in_separate_batches_and_a_full_batch_does_not_wait()
    {
        await using var batching = new BatchingGenerator(models.Engine(float16: false), new BatchingOptions { MaxImages = 2, MaxWait = TimeSpan.FromSeconds(30) }, NullLogger.Instance);
        var small = batching.GenerateAsync(Request(1, count: 2), null, CancellationToken.None);
        var large = batching.GenerateAsync(Request(2, size: 72, count: 2), null, CancellationToken.None);
        // Each request fills a batch on its own, so neither waits the 30 seconds for company.
        var done = await Task.WhenAll(small, large).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.NotSame(done[0].Timings, done[1].Timings);
        Assert.Equal(72, done[1].Images[0].Width);
    }

    [Fact]
    public async Task A_canceled_job_leaves_the_others_of_its_batch_running()
    {
        await using var batching = new BatchingGenerator(models.Engine(float16: false), new BatchingOptions { MaxImages = 4, MaxWait = TimeSpan.FromMilliseconds(300) }, NullLogger.Instance);
        using var cancel = new CancellationTokenSource();
        var canceled = batching.GenerateAsync(Request(1), null, cancel.Token);
        var kept = batching.GenerateAsync(Request(2), null, CancellationToken.None);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);
        Images.AssertSameImage(models.Engine(float16: false).Generate(Request(2)).Images[0], (await kept).Images[0]);
    }

    [Fact]
    public async Task Invalid_requests_are_refused_by_the_one_check_before_they_are_queued()
    {
        // Callers validate once (the job processor, lcm generate); GenerateAsync takes only what passed.
        await using var batching = new BatchingGenerator(models.Engine(float16: false), new BatchingOptions { MaxImages = 4 }, NullLogger.Instance);
        var error = Assert.Throws<InvalidRequestException>(() => batching.Validate(Request(1, size: 100)));
        Assert.Equal("invalid_width", error.Code);
    }

    [Fact]
    public void Settings_turn_batching_on_and_off()
    {
        Assert.False(EngineSettings.ReadBatching(n => n == "LCM_BATCH_MAX_IMAGES" ? "1" : null).Enabled);
        var options = EngineSettings.ReadBatching(n => n switch { "LCM_BATCH_MAX_IMAGES" => "8", "LCM_BATCH_MAX_WAIT_MS" => "20", _ => null });
        Assert.Equal((8, TimeSpan.FromMilliseconds(20)), (options.MaxImages, options.MaxWait));
        Assert.Throws<ArgumentException>(() => EngineSettings.ReadBatching(n => n == "LCM_BATCH_MAX_IMAGES" ? "9" : null));
    }
}
