using System.Diagnostics;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// Turns one job delivery into images and a final status. Delivery is at least once, so every
/// step can be repeated: the seed is fixed in the status on the first attempt, images are
/// overwritten with the same bytes, and status writes are conditional, so two deliveries end
/// in one consistent status. Knows nothing of ONNX: generation is behind <see cref="IImageGenerator"/>.
/// </summary>
public sealed partial class JobProcessor(
    IImageGenerator generator,
    StatusStore statuses,
    ImageStore images,
    FrameStore frames,
    JobQueues queues,
    BlobUrls urls,
    InputImages inputs,
    BlobContainerClient requests,
    WebhookDispatcher webhooks,
    EventGridPublisher? eventGrid,
    ILogger logger,
    JobProcessorOptions? options = null,
    TimeProvider? clock = null)
{
    private readonly JobProcessorOptions _options = options ?? new JobProcessorOptions();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>A processor on the service's containers and queues of one storage account.</summary>
    public static JobProcessor Create(StorageAccount account, StorageNames names, IImageGenerator generator, ILogger logger,
        JobProcessorOptions? options = null)
    {
        options ??= new JobProcessorOptions();
        var statuses = new StatusStore(account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer));
        var queues = new JobQueues(account, names);
        return new JobProcessor(generator, statuses,
            new ImageStore(account.Blobs.GetBlobContainerClient(StorageNames.ImagesContainer)),
            new FrameStore(account.Blobs.GetBlobContainerClient(StorageNames.FramesContainer)),
            queues,
            new BlobUrls(account.Blobs, options.SasLifetime),
            new InputImages(account.Blobs, options.InputLimits),
            account.Blobs.GetBlobContainerClient(StorageNames.RequestsContainer),
            new WebhookDispatcher(new WebhookSender(options.Webhooks), queues, statuses, options.Webhooks, logger),
            EventGridPublisher.Create(options.EventGrid, logger),
            logger, options);
    }

    /// <summary>The webhook deliveries of this processor's jobs, for the host's webhooks-queue loop or trigger.</summary>
    public WebhookDispatcher WebhookDispatcher => webhooks;

    public async Task<JobOutcome> ProcessAsync(JobDelivery delivery, CancellationToken shutdown)
    {
        var message = delivery.Message;
        // The job's span continues the submitter's trace; a message without one (or a request blob event) starts a trace.
        using var span = LcmTelemetry.Source.StartActivity("lcm.job", ActivityKind.Consumer, LcmTelemetry.ParentOf(message.Request?.Traceparent, message.Request?.Tracestate));
        span?.SetTag(LcmTelemetry.JobId, message.JobId);
        span?.SetTag(LcmTelemetry.Model, generator.Capabilities.ModelName);
        if (delivery.InsertedOn is { } inserted) span?.SetTag("lcm.queue_wait_ms", (_clock.GetUtcNow() - inserted).TotalMilliseconds);
        if (message.JobId is not string id)
        {
            logger.LogWarning("Message {MessageId} has no usable id: {Reason}", delivery.MessageId, message.Error?.Message);
            return new JobOutcome(JobOutcomeKind.Poison, null, null, message.Error?.Message);
        }
        if (message.VideoChunk is int chunk) return await ProcessChunkAsync(id, chunk, shutdown);
        JobOutcome? settled = null;
        var update = await InSpanAsync("lcm.claim", () => statuses.UpdateAsync(id, async stored =>
        {
            // A message that is not this job's request (another's, or an event that landed here) must not touch it.
            if (stored is not null && Conflict(stored.Status, message) is { } conflict)
            {
                logger.LogWarning("Message {MessageId} conflicts with job {Id}: {Reason}", delivery.MessageId, id, conflict);
                settled = new JobOutcome(JobOutcomeKind.Poison, id, stored.Status.Status, $"{JobErrorCodes.IdConflict}: {conflict}");
                return null;
            }
            if (stored?.Status.IsTerminal == true)
            {
                // A repeated delivery of a finished job: the status stands; the event may have been lost with the crash.
                await PublishAsync(stored.Status, shutdown);
                settled = Done(stored.Status);
                return null;
            }
            // Inputs are fetched only for a job that is still to run: the request blob now, the init image after the claim.
            if (message.RequestBlob is { } requestBlob) message = await ReadRequestBlobAsync(id, requestBlob, shutdown);
            message = RefuseServiceQueueAsReplyTo(message);
            if (message.Error is null && await webhooks.RefusalAsync(message.Request, shutdown) is { } refusedWebhook)
                message = message with { Request = null, Error = refusedWebhook };
            var queued = stored?.Status ?? NewStatus(id, delivery, message.Request);
            if (message.Error is null && Remaining(queued, message.Request!) <= TimeSpan.Zero)
                return Final(queued, JobState.Expired, new JobError(JobErrorCodes.DeadlineExceeded,
                    $"the job was not started within its deadline of {message.Request!.Deadline} s, so it was not run"));
            return message.Error is { } error
                ? Final(stored?.Status ?? NewStatus(id, delivery, message.Request), JobState.Failed, error)
                : Claim(stored, NewStatus(id, delivery, message.Request), message.Request!);
        }, _options.MaxStatusRaces, shutdown));
        if (settled is not null) return settled;
        if (update.Written is not { } written) return new JobOutcome(JobOutcomeKind.Retry, id, null, "the status kept changing under this worker");
        return written.Status.IsTerminal ? await AnnounceAsync(written.Status, shutdown, message.ReplyTo)
            : written.Status.Request!.Video is not null ? await SplitVideoAsync(written, shutdown)
            : await RunAsync(written, shutdown);
    }

    /// <summary>The running status of an attempt: the seed fixed by the first one, every default but an init image's size filled in.</summary>
    private JobStatus Claim(StoredStatus? stored, JobStatus queued, JobRequest request)
    {
        long seed = request.Seed ?? stored?.Status.Request?.Seed ?? Random.Shared.NextInt64(0, RequestLimits.MaxSeed + 1);
        return (stored?.Status ?? queued) with
        {
            Status = JobState.Running,
            Attempts = (stored?.Status.Attempts ?? 0) + 1,
            StartedAt = _clock.GetUtcNow(),
            Request = JobPlan.Normalise(request, seed, generator.Capabilities),
        };
    }

    /// <summary>
    /// Why a delivery is not the stored job's own request, or null when it is: a rejected message
    /// (a job's request was valid when it was queued) or a request that differs from the stored one.
    /// A request blob event stands for the job's own request.
    /// </summary>
    private string? Conflict(JobStatus stored, JobMessage message)
    {
        if (message.Kind == JobMessageKind.RequestBlobEvent) return null;
        if (message is { Kind: JobMessageKind.Rejected, Error: { } error })
            return stored.IsTerminal && stored.Error == error ? null
                : $"the message is not a valid job ({error.Code}), so it cannot be a delivery of job '{stored.Id}'";
        if (stored.Request is not { } original) return null;
        long seed = original.Seed ?? message.Request!.Seed ?? 0;
        var incoming = JobPlan.Normalise(message.Request!.WithoutTraceContext() with { Id = null }, seed, generator.Capabilities);
        var recorded = JobPlan.Normalise(original.WithoutTraceContext() with { Id = null }, seed, generator.Capabilities);
        // An image-to-image job without a size takes its image's, which the stored request records once known.
        recorded = recorded with { Width = incoming.Width is null ? null : recorded.Width, Height = incoming.Height is null ? null : recorded.Height };
        return JsonSerializer.Serialize(incoming, JobJson.Options) == JsonSerializer.Serialize(recorded, JobJson.Options) ? null
            : $"job '{stored.Id}' exists with another request; give a new job another id";
    }

    /// <summary>A replyTo naming one of the service's own queues would feed completion events back to it, without end.</summary>
    private JobMessage RefuseServiceQueueAsReplyTo(JobMessage message) =>
        queues.Names.ReplyToError(message.Request?.ReplyTo) is { } error ? message with { Request = null, ReplyTo = null, Error = error } : message;

    /// <summary>A job that arrived as a BlobCreated event: its request is the blob <c>lcm-requests/{id}.json</c>.</summary>
    private async Task<JobMessage> ReadRequestBlobAsync(string id, string blobName, CancellationToken cancellationToken)
    {
        var blob = requests.GetBlobClient(blobName);
        try
        {
            if (await BoundedRead.ReadAsync(blob, JobRequest.MaxMessageBytes, cancellationToken) is not { } body)
                return new JobMessage(id, null, new JobError(JobErrorCodes.MessageTooLarge, $"request blob '{blobName}' is over {JobRequest.MaxMessageBytes} bytes; at most {JobRequest.MaxMessageBytes} are accepted"));
            var parsed = JobMessage.FromJson(body, id);
            if (parsed.JobId is not null && parsed.JobId != id)
                return new JobMessage(id, null, new JobError(JobErrorCodes.InvalidId, $"request blob '{blobName}' names the id '{parsed.JobId}'; leave id out or use '{id}'"));
            return parsed with { JobId = id };
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return new JobMessage(id, null, new JobError(JobErrorCodes.RequestNotFound, $"request blob '{blobName}' does not exist in {StorageNames.RequestsContainer}"));
        }
    }

    /// <summary>Marks a job whose message went to the poison queue as failed with <c>retries_exhausted</c>.</summary>
    public async Task MarkRetriesExhaustedAsync(string jobId, string reason, CancellationToken cancellationToken)
    {
        var error = new JobError(JobErrorCodes.RetriesExhausted, reason);
        var update = await statuses.UpdateAsync(jobId, stored => ValueTask.FromResult(stored?.Status.IsTerminal == true ? null
            : Final(stored?.Status ?? Queued(jobId, _clock.GetUtcNow()), JobState.Failed, error)),
            _options.MaxStatusRaces, cancellationToken);
        if (update.Written is { } written) await AnnounceAsync(written.Status, cancellationToken);
    }

    private async Task<JobOutcome> RunAsync(StoredStatus claimed, CancellationToken shutdown)
    {
        var status = claimed.Status;
        logger.LogInformation("Job {Id} running (attempt {Attempt})", status.Id, status.Attempts);
        await NotifyAsync(() => webhooks.EnqueueAsync(status, Webhooks.Started, new JobStartedEvent(status.Id, status.Status, status.Attempts), shutdown, $".{status.Attempts}"));
        using var canceledByClient = new CancellationTokenSource();
        using var deadline = new CancellationTokenSource(UntilDeadline(status), _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(shutdown, canceledByClient.Token, deadline.Token);
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
        var watcher = WatchForCancelAsync(status.Id, claimed.ETag, canceledByClient, stopWatching.Token);
        var timer = Stopwatch.StartNew();
        JobStatus final;
        try
        {
            var (plan, generation) = await PlanAsync(status.Request!, linked.Token);
            status = status with { Request = plan.Request };
            generator.Validate(generation);
            GenerationResult result;
            await using (var progress = new JobProgressReporter(status, statuses, webhooks, _options.ProgressInterval, logger, plan.Request.Previews == true ? images : null))
                result = await generator.GenerateAsync(plan.Request.Previews == true ? generation with { Preview = progress } : generation, progress, linked.Token);
            var stored = await UploadAsync(status.Id, plan, result, linked.Token);
            final = Final(status, JobState.Succeeded, null) with
            {
                Images = stored,
                Warnings = result.Warnings,
                Metrics = Metrics(status, timer.Elapsed, result.Timings.UnetStepMs),
            };
        }
        catch (InvalidRequestException e)
        {
            final = Final(status, JobState.Failed, new JobError(e.Code, e.Message)) with { Metrics = Metrics(status, timer.Elapsed, []) };
        }
        catch (ModelOutputException e)
        {
            // The same model gives the same output on a retry: it fails at once, with its code.
            logger.LogError("Job {Id} failed: {Code}: {Message}", status.Id, e.Code, e.Message);
            final = Final(status, JobState.Failed, new JobError(e.Code, e.Message)) with { Metrics = Metrics(status, timer.Elapsed, []) };
        }
        catch (OperationCanceledException) when (canceledByClient.IsCancellationRequested)
        {
            await images.DeleteAllAsync(status.Id, CancellationToken.None);
            logger.LogInformation("Job {Id} canceled after {Ms:F0} ms", status.Id, timer.Elapsed.TotalMilliseconds);
            var canceled = await statuses.GetAsync(status.Id, CancellationToken.None);
            if (canceled is not null)
            {
                JobTelemetry.Ended(canceled.Status);
                await PublishAsync(canceled.Status, CancellationToken.None);
            }
            return new JobOutcome(JobOutcomeKind.Completed, status.Id, JobState.Canceled);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !shutdown.IsCancellationRequested)
        {
            await images.DeleteAllAsync(status.Id, CancellationToken.None);
            final = Final(status, JobState.Canceled, DeadlineExceeded(status.Request!)) with { Metrics = Metrics(status, timer.Elapsed, []) };
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            logger.LogInformation("Job {Id} handed back at shutdown", status.Id);
            return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, "worker shutting down");
        }
        catch (Exception e) when (IsTransient(e))
        {
            logger.LogWarning(e, "Job {Id} failed transiently; it will be retried", status.Id);
            return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, e.Message, e);
        }
        finally
        {
            await stopWatching.CancelAsync();
            await watcher;
        }
        return await FinishAsync(final);
    }

    /// <summary>
    /// The job's plan and the engine's request. Image-to-image fetches the init image here, after the
    /// claim, and a request without a size takes the image's own under the model's size limit.
    /// </summary>
    private async Task<(JobPlan, GenerationRequest)> PlanAsync(JobRequest request, CancellationToken cancellationToken)
    {
        if (request.InitImage is not { } reference)
        {
            var textToImage = JobPlan.Resolve(request);
            return (textToImage, textToImage.Generation);
        }
        byte[] bytes = await inputs.DownloadAsync(reference, cancellationToken);
        var plan = JobPlan.Resolve(request, ImageInput.DefaultSize(ImageInput.Identify(bytes, inputs.Limits), generator.Capabilities.MaxImageSize));
        var generation = plan.Generation;
        return (plan, generation with { InitImage = ImageInput.Decode(bytes, generation.Width, generation.Height, inputs.Limits) });
    }

    /// <summary>Encodes and uploads each image; a redelivery overwrites them with the same bytes.</summary>
    private async Task<List<JobImage>> UploadAsync(string id, JobPlan plan, GenerationResult result, CancellationToken cancellationToken)
    {
        var stored = new List<JobImage>();
        for (int i = 0; i < result.Images.Count; i++)
        {
            var image = result.Images[i];
            byte[] bytes;
            using (LcmTelemetry.Source.StartActivity("lcm.image_encode")?.SetTag("lcm.format", plan.Format.ToString().ToLowerInvariant()))
                bytes = ImageEncoder.Encode(image, plan.Format, plan.Quality);
            string blob = await InSpanAsync("lcm.upload", () => images.UploadAsync(id, i, plan.Format, bytes, cancellationToken));
            stored.Add(new JobImage(blob, BlobUrls.PlainUrl(images.Container.GetBlobClient(blob)), image.Width, image.Height, image.Seed, plan.Format.ContentType()));
        }
        return stored;
    }

    /// <summary>
    /// Writes a run's final status over whatever is there unless the job has ended meanwhile: a
    /// client canceled it (its images are deleted), or another delivery finished it first.
    /// </summary>
    private async Task<JobOutcome> FinishAsync(JobStatus final)
    {
        JobStatus? attempted = null;
        var update = await statuses.UpdateAsync(final.Id, current => ValueTask.FromResult(current?.Status.IsTerminal == true ? null
            : attempted = final with { Attempts = current?.Status.Attempts ?? final.Attempts }), _options.MaxStatusRaces, CancellationToken.None);
        if (update.Written is { } written) return await AnnounceAsync(written.Status, CancellationToken.None);
        if (update.Current?.Status is not { IsTerminal: true } current)
            return new JobOutcome(JobOutcomeKind.Retry, final.Id, null, "the status kept changing under this worker");
        // The write reached storage but its answer was lost and the retry got 412: the status is this worker's own.
        if (attempted is not null && current.ToJson().AsSpan().SequenceEqual(attempted.ToJson())) return await AnnounceAsync(current, CancellationToken.None);
        if (current.Status == JobState.Canceled)
        {
            await images.DeleteAllAsync(final.Id, CancellationToken.None);
            // A client's cancel sends no event: the worker that finds it announces it, as when a cancel stops a run.
            logger.LogInformation("Job {Id} canceled after its images were made; they are deleted", final.Id);
            JobTelemetry.Ended(current);
            await PublishAsync(current, CancellationToken.None);
        }
        return Done(current);
    }

    /// <summary>A final status this worker wrote: logged and published.</summary>
    private async Task<JobOutcome> AnnounceAsync(JobStatus final, CancellationToken cancellationToken, string? replyTo = null)
    {
        logger.LogInformation("Job {Id} {Status}{Error} attempts={Attempts} queueMs={QueueMs:F0} runMs={RunMs:F0}",
            final.Id, final.Status.ToString().ToLowerInvariant(), final.Error is { } e ? $" ({e.Code}: {e.Message})" : "",
            final.Attempts, final.Metrics?.QueueMs, final.Metrics?.RunMs);
        JobTelemetry.Ended(final);
        await PublishAsync(final, cancellationToken, replyTo);
        return Done(final);
    }

    /// <summary>The completion event, to the results queue, the job's replyTo queue, its webhook and the Event Grid topic.</summary>
    private async Task PublishAsync(JobStatus status, CancellationToken cancellationToken, string? replyTo = null)
    {
        var targets = new[] { queues.Names.ResultsQueue, status.Request?.ReplyTo ?? replyTo }.OfType<string>().Distinct()
            .Where(queue => queue == queues.Names.ResultsQueue || !queues.Names.IsServiceQueue(queue)).ToArray();
        if (targets.Length == 0 && status.Request?.Webhook is null && eventGrid is null) return;
        using var span = LcmTelemetry.Source.StartActivity("lcm.completion_events", ActivityKind.Producer);
        var eventImages = new List<JobEventImage>();
        foreach (var image in status.Images)
            eventImages.Add(new JobEventImage(image.Blob, await urls.ReadUrlAsync(StorageNames.ImagesContainer, image.Blob, cancellationToken)));
        var completed = new JobCompletedEvent(status.Id, status.Status, eventImages, status.Error);
        // Alongside the queues, so a slow topic adds nothing to the job's end; it never throws.
        var published = eventGrid?.PublishAsync(completed) ?? Task.CompletedTask;
        foreach (string queue in targets) await queues.SendJsonAsync(queue, completed, cancellationToken);
        await webhooks.EnqueueAsync(status, Webhooks.Completed, completed, cancellationToken);
        await published;
    }

    /// <summary>A started or progress webhook is news, not the job: failing to queue it is logged, and the job goes on.</summary>
    private async Task NotifyAsync(Func<Task> enqueue)
    {
        try
        {
            await enqueue();
        }
        catch (Exception e) when (e is RequestFailedException or IOException or HttpRequestException)
        {
            logger.LogWarning("A webhook event could not be queued: {Message}", e.Message);
        }
    }

    /// <summary>Polls the status while the job runs; a client's cancel shows as a changed ETag with status canceled.</summary>
    private async Task WatchForCancelAsync(string id, ETag etag, CancellationTokenSource canceled, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(_options.CancelPollInterval, _clock, stop);
                var current = await statuses.GetAsync(id, stop);
                if (current is not null && current.ETag != etag && current.Status.Status == JobState.Canceled)
                {
                    await canceled.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Watching job {Id} for a cancel failed; the job runs on", id);
        }
    }

    /// <summary>What a running job's cancel-by-deadline fires after: the time left, none (infinite) without a deadline.</summary>
    private TimeSpan UntilDeadline(JobStatus status) =>
        Remaining(status, status.Request!) is { } left ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : Timeout.InfiniteTimeSpan;

    private static JobError DeadlineExceeded(JobRequest request) => new(JobErrorCodes.DeadlineExceeded,
        $"the job was still running at its deadline of {request.Deadline} s after submit, so it was canceled");

    /// <summary>Time left before the job's deadline (from its creation, the submit); null without one.</summary>
    private TimeSpan? Remaining(JobStatus status, JobRequest request) =>
        request.Deadline is int seconds ? status.CreatedAt + TimeSpan.FromSeconds(seconds) - _clock.GetUtcNow() : null;

    private JobStatus NewStatus(string id, JobDelivery delivery, JobRequest? request) => Queued(id, delivery.InsertedOn ?? _clock.GetUtcNow()) with { Request = request };

    /// <summary>The status of a job this worker is the first to hear of, kept as long as the retention rule keeps it.</summary>
    private JobStatus Queued(string id, DateTimeOffset created) =>
        new() { Id = id, Status = JobState.Queued, CreatedAt = created, ExpiresAt = created + queues.Names.Retention };

    private JobStatus Final(JobStatus status, JobState state, JobError? error) => status with
    {
        Status = state,
        CompletedAt = _clock.GetUtcNow(),
        Error = error,
    };

    private JobMetrics Metrics(JobStatus status, TimeSpan run, IReadOnlyList<double> stepsMs) => new(
        status.StartedAt is { } started ? (started - status.CreatedAt).TotalMilliseconds : null,
        run.TotalMilliseconds,
        stepsMs);

    private static async Task<T> InSpanAsync<T>(string name, Func<Task<T>> run)
    {
        using var span = LcmTelemetry.Source.StartActivity(name);
        return await run();
    }

    private static JobOutcome Done(JobStatus status) => new(JobOutcomeKind.Completed, status.Id, status.Status);

    private static bool IsTransient(Exception e) =>
        e is RequestFailedException or IOException or TimeoutException or HttpRequestException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException
            or OutOfMemoryException or TaskCanceledException;
}

public sealed record JobProcessorOptions
{
    /// <summary>How often a running job's status is read to notice a client's cancel.</summary>
    public TimeSpan CancelPollInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How many times a lost conditional write is re-read and retried before the message is retried.</summary>
    public int MaxStatusRaces { get; init; } = 3;
    /// <summary>Limits on init images (LCM_MAX_INPUT_BYTES, LCM_MAX_INPUT_PIXELS).</summary>
    public ImageInputLimits InputLimits { get; init; } = new();
    /// <summary>How long the read SAS of image URLs in completion events stays valid.</summary>
    public TimeSpan SasLifetime { get; init; } = TimeSpan.FromMinutes(60);
    /// <summary>How often a running job's progress is written into its status at most (LCM_PROGRESS_MS).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Signing, URL policy and retries of job webhooks (LCM_WEBHOOK_*).</summary>
    public WebhookOptions Webhooks { get; init; } = new();
    /// <summary>The Event Grid topic that receives completion events (LCM_EVENTGRID_*); none by default.</summary>
    public EventGridOptions EventGrid { get; init; } = new();
    /// <summary>Video-to-video's tools and limits (LCM_FFMPEG, LCM_MAX_VIDEO_*, LCM_VIDEO_CHUNK_FRAMES).</summary>
    public VideoOptions Video { get; init; } = new();
}
