using System.Diagnostics;
using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Functions;
using Lcm.Jobs;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// Traces and metrics of a real worker on Azurite, caught with OpenTelemetry's in-memory exporter, and
/// completion events published to a loopback listener posing as an Event Grid topic.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class TelemetryTests : IDisposable
{
    private static readonly ActivitySource Submitter = new("LcmFunctions.Tests.Submitter");

    private readonly AzuriteFixture _fixture;
    private readonly ITestOutputHelper _output;
    private readonly List<Activity> _spans = [];
    private readonly List<MetricSnapshot> _metrics = [];
    private readonly TracerProvider _tracing;
    private readonly MeterProvider _meters;

    public TelemetryTests(AzuriteFixture fixture, ITestOutputHelper output)
    {
        (_fixture, _output) = (fixture, output);
        _tracing = Sdk.CreateTracerProviderBuilder().AddSource(LcmTelemetry.Name, Submitter.Name).AddInMemoryExporter(_spans).Build();
        _meters = Sdk.CreateMeterProviderBuilder().AddMeter(LcmTelemetry.Name).AddInMemoryExporter(_metrics).Build();
    }

    [Fact]
    public async Task A_job_is_one_trace_from_the_submit_through_the_worker_to_its_webhook()
    {
        var names = _fixture.NewNames();
        using var receiver = new WebhookReceiver();
        await using var worker = await TestWorker.StartAsync(_fixture, names, _output, processor: WithWebhooks(TestWorker.FastProcessor));
        var client = new LcmJobClient(_fixture.Account, new LcmJobClientOptions { Names = names, Webhooks = new WebhookPolicy { AllowHttpLoopback = true } });

        JobStatus submitted;
        ActivityTraceId trace;
        using (var submit = Submitter.StartActivity("submitting"))
        {
            trace = submit!.TraceId;
            submitted = await client.SubmitAsync(new JobRequest { Prompt = "a traced cat", Width = 64, Height = 64, Steps = 2, Seed = 5, Webhook = receiver.Url() });
        }
        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        await receiver.WaitForAsync(1);
        var spans = await SpansAsync(trace, s => s.Any(span => span.DisplayName == "lcm.webhook") && s.Any(span => span.DisplayName == "lcm.job"));
        foreach (var span in spans) _output.WriteLine($"{span.DisplayName} {span.SpanId} <- {span.ParentSpanId} {span.Duration.TotalMilliseconds:F1} ms");

        Assert.Equal(JobState.Succeeded, done.Status);
        var root = Assert.Single(spans, s => s.DisplayName == "submitting");
        var byId = spans.ToDictionary(s => s.SpanId);
        var job = Assert.Single(spans, s => s.DisplayName == "lcm.job");
        Assert.Equal("lcm.submit", byId[job.ParentSpanId].DisplayName);
        Assert.Equal(root.SpanId, byId[job.ParentSpanId].ParentSpanId);
        Assert.Equal(submitted.Id, job.GetTagItem(LcmTelemetry.JobId));
        Assert.Equal(Path.GetFileName(_fixture.ModelPath), job.GetTagItem(LcmTelemetry.Model));
        Assert.Equal("succeeded", job.GetTagItem(LcmTelemetry.State));
        // The worker's stages, each under the job's span; two UNet steps of one run.
        foreach (string stage in new[] { "lcm.claim", "lcm.generate", "lcm.text_encode", "lcm.vae_decode", "lcm.image_encode", "lcm.upload", "lcm.completion_events" })
            Assert.True(Under(job, Assert.Single(spans, s => s.DisplayName == stage), byId), $"{stage} is not under the job's span");
        Assert.Equal([1, 2], spans.Where(s => s.DisplayName == "lcm.unet_step").Select(s => (int)s.GetTagItem("lcm.step")!).Order());
        Assert.All(spans.Where(s => s.DisplayName == "lcm.unet_step"), step => Assert.True(Under(job, step, byId)));
        // The webhook goes out later, off the webhooks queue, and still joins the trace under the job.
        var webhook = Assert.Single(spans, s => s.DisplayName == "lcm.webhook");
        Assert.True(Under(job, webhook, byId));
        Assert.Equal("completed", webhook.GetTagItem("lcm.webhook.event"));

        _meters.ForceFlush();
        var jobs = Points("lcm.jobs");
        Assert.Contains(jobs, p => Tag(p, LcmTelemetry.State) == "succeeded" && p.GetSumLong() >= 1);
        Assert.NotEmpty(Points("lcm.job.run_time"));
        Assert.NotEmpty(Points("lcm.job.queue_time"));
        Assert.NotEmpty(Points("lcm.batch.images"));
        Assert.NotEmpty(Points("lcm.unet.steps_per_second"));
    }

    [Fact]
    public async Task The_http_api_passes_the_callers_trace_on_and_a_repeat_under_another_trace_is_the_same_job()
    {
        var names = _fixture.NewNames();
        var api = new JobApi(new LcmJobClient(_fixture.Account, new LcmJobClientOptions { Names = names }), new CallerIdentity(AuthMode.None), new ImageInputLimits());
        string key = "order-" + Guid.NewGuid().ToString("N")[..8];
        Task<ApiResult> Submit() => api.SubmitAsync(new MemoryStream("{\"prompt\":\"a traced boat\",\"width\":64,\"height\":64,\"steps\":1}"u8.ToArray()),
            name => name == "Idempotency-Key" ? key : null, id => $"/api/jobs/{id}", CancellationToken.None);

        ApiResult first, again;
        ActivityTraceId trace;
        using (var call = Submitter.StartActivity("first call"))
            (trace, first) = (call!.TraceId, await Submit());
        using (Submitter.StartActivity("second call"))
            again = await Submit();
        var status = (await _fixture.Statuses.GetAsync(first.Location!.Split('/').Last(), CancellationToken.None))!.Status;

        Assert.Equal((202, 200), (first.StatusCode, again.StatusCode));
        Assert.Equal(first.Location, again.Location);
        Assert.StartsWith($"00-{trace}-", status.Request!.Traceparent);
    }

    [Fact]
    public async Task A_message_without_a_trace_context_gets_a_root_job_span()
    {
        var names = _fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(_fixture, names, _output);
        string id = "untraced-" + Guid.NewGuid().ToString("N")[..8];

        await _fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Id = id, Prompt = "an untraced cat", Width = 64, Height = 64, Steps = 1, Seed = 6 }));
        await _fixture.WaitForStatusAsync(id, s => s.IsTerminal);
        var job = await JobSpanAsync(id);

        Assert.Equal(default, job.ParentSpanId);
        Assert.Equal("succeeded", job.GetTagItem(LcmTelemetry.State));
        var spans = await SpansAsync(job.TraceId, s => s.Any(span => span.DisplayName == "lcm.upload"));
        Assert.Contains(spans, s => s.DisplayName == "lcm.unet_step" && s.TraceId == job.TraceId);
    }

    [Fact]
    public async Task Each_completion_event_is_published_to_event_grid_as_one_cloud_event()
    {
        var names = _fixture.NewNames();
        using var topic = new WebhookReceiver();
        var processor = TestWorker.FastProcessor with { EventGrid = new EventGridOptions { Endpoint = new Uri(topic.Url("api/events")), Key = "a-topic-key" } };
        await using var worker = await TestWorker.StartAsync(_fixture, names, _output, processor: processor);
        string id = "gridded-" + Guid.NewGuid().ToString("N")[..8];

        await _fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Id = id, Prompt = "a published cat", Width = 64, Height = 64, Steps = 1, Seed = 7 }));
        var status = await _fixture.WaitForStatusAsync(id, s => s.IsTerminal);
        var received = await topic.WaitForAsync(1);
        await Task.Delay(300);
        foreach (var post in topic.Received) _output.WriteLine($"{post.Method} {post.Path} {post.Headers.GetValueOrDefault("content-type")} {post.Body}");

        var publish = Assert.Single(topic.Received);
        Assert.Equal(("POST", "/api/events"), (publish.Method, publish.Path));
        Assert.StartsWith("application/cloudevents-batch+json", publish.Headers["content-type"]);
        Assert.Equal("a-topic-key", publish.Headers["aeg-sas-key"]);
        var cloudEvent = Assert.Single(JsonDocument.Parse(publish.Body).RootElement.EnumerateArray());
        Assert.Equal("1.0", cloudEvent.GetProperty("specversion").GetString());
        Assert.Equal("LcmFunctions.Job.Succeeded", cloudEvent.GetProperty("type").GetString());
        Assert.Equal($"jobs/{id}", cloudEvent.GetProperty("subject").GetString());
        Assert.Equal($"{id}.completed", cloudEvent.GetProperty("id").GetString());
        Assert.Equal(EventGridPublisher.Source, cloudEvent.GetProperty("source").GetString());
        var data = cloudEvent.GetProperty("data");
        Assert.Equal((id, "succeeded"), (data.GetProperty("id").GetString(), data.GetProperty("status").GetString()));
        Assert.Equal(status.Images[0].Blob, data.GetProperty("images")[0].GetProperty("blob").GetString());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("error").ValueKind);
    }

    [Fact]
    public async Task A_topic_that_fails_does_not_fail_the_job_and_is_counted()
    {
        var names = _fixture.NewNames();
        using var topic = new WebhookReceiver();
        for (int i = 0; i < 4; i++) topic.Then(500);
        var processor = TestWorker.FastProcessor with { EventGrid = new EventGridOptions { Endpoint = new Uri(topic.Url("api/events")), Key = "a-topic-key", Timeout = TimeSpan.FromSeconds(2) } };
        await using var worker = await TestWorker.StartAsync(_fixture, names, _output, processor: processor);
        string id = "unpublished-" + Guid.NewGuid().ToString("N")[..8];

        await _fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Id = id, Prompt = "an unpublished cat", Width = 64, Height = 64, Steps = 1, Seed = 8 }));
        var status = await _fixture.WaitForStatusAsync(id, s => s.IsTerminal);
        var job = await JobSpanAsync(id);

        Assert.Equal(JobState.Succeeded, status.Status);
        var publish = Assert.Single(_spans.ToArray(), s => s.DisplayName == "lcm.eventgrid.publish" && s.TraceId == job.TraceId);
        Assert.Equal(ActivityStatusCode.Error, publish.Status);
        _meters.ForceFlush();
        Assert.Contains(Points("lcm.eventgrid.failures"), p => p.GetSumLong() >= 1);
    }

    private static WebhookOptions Hooks => new()
    {
        Keys = [WebhookSignature.Key("whsec_" + Convert.ToBase64String("a test secret of 32 bytes length"u8.ToArray()))],
        Policy = new WebhookPolicy { AllowHttpLoopback = true },
    };

    private static JobProcessorOptions WithWebhooks(JobProcessorOptions options) => options with { Webhooks = Hooks };

    /// <summary>Whether <paramref name="span"/> descends from <paramref name="ancestor"/>.</summary>
    private static bool Under(Activity ancestor, Activity span, IReadOnlyDictionary<ActivitySpanId, Activity> byId)
    {
        for (var at = span; byId.TryGetValue(at.ParentSpanId, out var parent); at = parent)
            if (parent.SpanId == ancestor.SpanId) return true;
        return false;
    }

    /// <summary>The ended spans of a trace, once <paramref name="complete"/> holds of them.</summary>
    private async Task<Activity[]> SpansAsync(ActivityTraceId trace, Func<Activity[], bool> complete)
    {
        using var deadline = new CancellationTokenSource(ServiceStorage.Timeout);
        while (true)
        {
            var spans = Ended().Where(s => s.TraceId == trace).ToArray();
            if (complete(spans)) return spans;
            await Task.Delay(50, deadline.Token);
        }
    }

    private async Task<Activity> JobSpanAsync(string id)
    {
        using var deadline = new CancellationTokenSource(ServiceStorage.Timeout);
        while (true)
        {
            if (Ended().FirstOrDefault(s => s.DisplayName == "lcm.job" && Equals(s.GetTagItem(LcmTelemetry.JobId), id)) is { } job) return job;
            await Task.Delay(50, deadline.Token);
        }
    }

    /// <summary>A copy of the spans ended so far: the exporter adds to the list as spans end on the worker's threads.</summary>
    private Activity[] Ended()
    {
        while (true)
        {
            try
            {
                return [.. _spans];
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // The list grew while it was copied.
            }
        }
    }

    private MetricPoint[] Points(string name) =>
        _metrics.Where(m => m.Name == name).SelectMany(m => m.MetricPoints).ToArray();

    private static string? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
            if (tag.Key == key) return tag.Value as string;
        return null;
    }

    public void Dispose()
    {
        _tracing.Dispose();
        _meters.Dispose();
    }
}
