using System.Text;
using Azure.Storage.Queues.Models;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using Lcm.Functions;
using Lcm.Engine.Imaging;
using Lcm.Jobs;
using Lcm.Tests.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using static Lcm.Tests.Functions.HttpCalls;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lcm.Tests.Functions;

/// <summary>
/// The function app's trigger methods called as the host would call them (the host has already
/// decoded the base64 text), on real Azurite storage. The host itself cannot run here.
/// </summary>
[Collection(Service.ServiceCollection.Name)]
public sealed class FunctionTriggerTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    /// <summary>
    /// The handler as the function app composes it, on the fixture's engine (or <paramref name="generator"/>).
    /// Batching is off: nothing here stops its loop, and each job runs alone.
    /// </summary>
    private (QueueTriggerHandler Handler, StorageNames Names) Handler(IImageGenerator? generator = null)
    {
        var names = fixture.NewNames();
        var settings = new WorkerSettings { Names = names, Engine = AzuriteFixture.EngineOptions, Batching = new BatchingOptions { MaxImages = 1 } };
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection()
            .AddLogging(logging => logging.AddProvider(new TestLog("functions", output)))
            .AddLcmFunctions(settings, fixture.ModelPath, fixture.Account)
            .Replace(ServiceDescriptor.Singleton(typeof(LcmEngine), fixture.Engine));
        if (generator is not null) services.Replace(ServiceDescriptor.Singleton(typeof(IImageGenerator), generator));
        return (services.BuildServiceProvider().GetRequiredService<QueueTriggerHandler>(), names);
    }

    private static QueueMessage Message(string text, long dequeueCount = 1) =>
        QueuesModelFactory.QueueMessage(Guid.NewGuid().ToString(), "receipt", text, dequeueCount, DateTimeOffset.UtcNow);

    [Fact]
    public async Task GenerateImage_runs_a_job_message_to_succeeded()
    {
        var (handler, names) = Handler();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        string id = $"fn-{Guid.NewGuid():N}"[..20];
        await new GenerateImage(handler).Run(Message($$"""{"id":"{{id}}","prompt":"a boat","width":64,"height":64,"steps":2,"seed":3}"""), CancellationToken.None);

        var status = await fixture.WaitForTerminalAsync(id);
        Assert.Equal(JobState.Succeeded, status.Status);
        ServiceStorage.AssertImage(await fixture.DownloadImageAsync(status.Images[0].Blob), "png", 64, 64);
        Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
    }

    [Fact]
    public async Task GenerateImage_runs_a_video_job_and_the_chunk_messages_it_queues_to_one_video()
    {
        var (handler, names) = Handler();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        string id = $"fn-video-{Guid.NewGuid():N}"[..24];
        string input = await new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names }).UploadInputAsync(new MemoryStream(TestVideos.Clip(seconds: 1)));
        var trigger = new GenerateImage(handler);
        await trigger.Run(Message($$$"""{"id":"{{{id}}}","prompt":"a boat","steps":1,"seed":3,"video":{"input":"{{{input}}}"}}"""), CancellationToken.None);

        // The host would hand each chunk message on the jobs queue to the trigger, on whichever replica.
        var queue = fixture.Queue(names.JobsQueue);
        int chunks = 0;
        while (await queue.ReceiveMessageAsync() is { Value: { } chunk })
        {
            await trigger.Run(Message(Encoding.UTF8.GetString(Convert.FromBase64String(chunk.MessageText)), chunk.DequeueCount), CancellationToken.None);
            await queue.DeleteMessageAsync(chunk.MessageId, chunk.PopReceipt);
            chunks++;
        }
        var status = await fixture.WaitForTerminalAsync(id);
        output.WriteLine(status.Json());
        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Equal(status.Video!.Chunks, chunks);
        var video = Assert.Single(status.Images);
        Assert.Equal(($"{id}/video.mp4", "video/mp4"), (video.Blob, video.ContentType));
        Assert.Equal(8, TestVideos.Probe(await fixture.DownloadImageAsync(video.Blob)).Frames);
    }

    [Fact]
    public async Task GenerateImage_returns_for_bad_input_and_poisons_an_unusable_id()
    {
        var (handler, names) = Handler();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        string id = $"fn-{Guid.NewGuid():N}"[..20];
        // Returning (not throwing) is what tells the host to delete the message: bad input is not retried.
        await new GenerateImage(handler).Run(Message($$"""{"id":"{{id}}","prompt":"a boat","width":100}"""), CancellationToken.None);
        Assert.Equal("invalid_width", (await fixture.WaitForTerminalAsync(id)).Error!.Code);

        await new GenerateImage(handler).Run(Message("""{"id":"../x","prompt":"a boat"}"""), CancellationToken.None);
        var poisoned = await fixture.ReceiveJsonAsync(names.PoisonQueue, 1);
        Assert.Contains("id must be", poisoned[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task GenerateImage_throws_on_a_transient_failure_so_the_host_retries()
    {
        var (handler, names) = Handler(new FlakyGenerator(fixture.Engine, _ => true));
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        string id = $"fn-{Guid.NewGuid():N}"[..20];

        await Assert.ThrowsAsync<JobRetryException>(() => new GenerateImage(handler).Run(
            Message($$"""{"id":"{{id}}","prompt":"a boat","width":64,"height":64,"steps":1}"""), CancellationToken.None));
        Assert.Equal(JobState.Running, (await fixture.Statuses.GetAsync(id))!.Status.Status);
    }

    [Fact]
    public async Task PoisonJobs_marks_the_job_failed_with_retries_exhausted()
    {
        var (handler, names) = Handler();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        var queued = await client.SubmitAsync(new JobRequest { Prompt = "a boat", Width = 64, Height = 64 });

        // The host moves the original (decoded) message text to the poison queue after maxDequeueCount failures.
        await new PoisonJobs(handler).Run(Message(Encoding.UTF8.GetString(Convert.FromBase64String(JobMessage.ToBase64(queued.Request!)))), CancellationToken.None);

        var status = await client.GetStatusAsync(queued.Id);
        Assert.Equal(JobState.Failed, status!.Status);
        Assert.Equal(JobErrorCodes.RetriesExhausted, status.Error!.Code);
    }

    [Fact]
    public async Task PoisonJobs_marks_a_request_blob_job_by_its_blob_not_by_the_events_own_id()
    {
        var (handler, names) = Handler();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        string id = $"blob-{Guid.NewGuid():N}"[..20], eventId = $"evt-{Guid.NewGuid():N}"[..20];
        await fixture.Statuses.TryCreateAsync(new JobStatus { Id = id, Status = JobState.Running, CreatedAt = DateTimeOffset.UtcNow });
        string blobEvent = $$"""{"id":"{{eventId}}","eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/lcm-requests/blobs/{{id}}.json","data":null}""";

        await new PoisonJobs(handler).Run(Message(blobEvent), CancellationToken.None);

        var status = (await fixture.Statuses.GetAsync(id))!.Status;
        Assert.Equal((JobState.Failed, JobErrorCodes.RetriesExhausted), (status.Status, status.Error!.Code));
        Assert.Null(await fixture.Statuses.GetAsync(eventId));
    }

    [Fact]
    public async Task The_http_api_submits_reads_and_cancels_without_storage_credentials_on_the_caller()
    {
        var names = fixture.NewNames();
        var api = new JobApi(new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names }), new CallerIdentity(AuthMode.None), new ImageInputLimits());

        var bad = await api.SubmitAsync(Body("""{"prompt":"a boat","stepz":1}"""), NoHeaders, StatusUrl, CancellationToken.None);
        Assert.Equal(400, bad.StatusCode);
        // A body is read only up to the contract's limit, however much the caller sends.
        var huge = await api.SubmitAsync(new MemoryStream(new byte[10 * 1024 * 1024]), NoHeaders, StatusUrl, CancellationToken.None);
        Assert.Equal(413, huge.StatusCode);
        Assert.Equal(JobErrorCodes.MessageTooLarge, ErrorCode(huge));
        var accepted = await api.SubmitAsync(Body("""{"prompt":"a boat","id":"http-job-1"}"""), NoHeaders, StatusUrl, CancellationToken.None);
        Assert.Equal(202, accepted.StatusCode);
        Assert.Equal("https://app.example.net/api/jobs/http-job-1", accepted.Location);
        Assert.Equal(accepted.Location, System.Text.Json.JsonSerializer.SerializeToElement(accepted.Body, JobJson.Options).GetProperty("statusUrl").GetString());
        Assert.Equal(409, (await api.SubmitAsync(Body("""{"prompt":"a boat","id":"http-job-1"}"""), NoHeaders, StatusUrl, CancellationToken.None)).StatusCode);
        var got = await api.GetAsync("http-job-1", NoHeaders, CancellationToken.None);
        Assert.Equal(200, got.StatusCode);
        Assert.Equal(JobState.Queued, ((JobStatus)got.Body).Status);
        Assert.Equal(JobState.Canceled, ((JobStatus)(await api.CancelAsync("http-job-1", NoHeaders, CancellationToken.None)).Body).Status);
        Assert.Equal(404, (await api.GetAsync("no-such-job", NoHeaders, CancellationToken.None)).StatusCode);
        Assert.Equal(400, (await api.GetAsync("../x", NoHeaders, CancellationToken.None)).StatusCode);
    }
}
