using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Jobs.Video;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// Video-to-video, fanned out over the jobs queue. The job's own delivery splits the source into frame
/// blobs, records the chunk plan in the status and queues one message per chunk, so every replica takes
/// chunks. A chunk is an ordinary at-least-once delivery: its frames are image-to-image runs (batched by
/// the engine) whose outputs are overwritten with the same bytes, and its completion is a conditional
/// write of the status. Whichever delivery sees every chunk recorded assembles the output, and the final
/// status is a conditional write too, so the job finishes once however many deliveries get that far.
/// </summary>
public sealed partial class JobProcessor
{
    /// <summary>
    /// Splits once (a repeated delivery finds the plan in the status) and queues every chunk not yet
    /// done: a chunk queued twice finds itself recorded and does nothing more.
    /// </summary>
    private async Task<JobOutcome> SplitVideoAsync(StoredStatus claimed, CancellationToken shutdown)
    {
        var status = claimed.Status;
        var timer = System.Diagnostics.Stopwatch.StartNew();
        if (status.Video is null)
        {
            try
            {
                await NotifyAsync(() => webhooks.EnqueueAsync(status, Webhooks.Started, new JobStartedEvent(status.Id, status.Status, status.Attempts), shutdown, $".{status.Attempts}"));
                var (request, plan) = await SplitAsync(status, shutdown);
                var update = await statuses.UpdateAsync(status.Id, current => ValueTask.FromResult(
                    current?.Status is not { IsTerminal: false, Video: null } running ? null
                        : WithPlan(running with { Request = request }, plan)), _options.MaxStatusRaces, shutdown);
                var now = (update.Written ?? update.Current)?.Status;
                if (now is { Status: JobState.Canceled })
                {
                    // Canceled while it was split: no chunk runs, so this worker announces the cancel.
                    await PublishAsync(now, CancellationToken.None);
                    return Done(now);
                }
                if (now is { IsTerminal: true }) return Done(now);
                if (now?.Video is null) return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, "the status kept changing under this worker");
                status = now;
            }
            catch (InvalidRequestException e)
            {
                return await FinishAsync(Final(status, JobState.Failed, new JobError(e.Code, e.Message)) with { Metrics = Metrics(status, timer.Elapsed, []) });
            }
            catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
            {
                return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, "worker shutting down");
            }
            catch (Exception e) when (IsTransient(e))
            {
                logger.LogWarning(e, "Video job {Id} could not be split; it will be retried", status.Id);
                return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, e.Message, e);
            }
        }
        var video = status.Video!;
        for (int chunk = 0; chunk < video.Chunks; chunk++)
            if (!video.ChunksDone.Contains(chunk))
                await queues.Jobs.SendMessageAsync(JobMessage.ChunkToBase64(status.Id, chunk), shutdown);
        logger.LogInformation("Video job {Id}: {Frames} frames at {Fps} fps in {Chunks} chunks queued", status.Id, video.Frames, video.Fps, video.Chunks);
        return new JobOutcome(JobOutcomeKind.Completed, status.Id, JobState.Running);
    }

    /// <summary>
    /// Every check before any work: the input is fetched, probed and decoded, and the first frame's run
    /// validated against the model; then the source frames are written as blobs.
    /// </summary>
    private async Task<(JobRequest, VideoPlan)> SplitAsync(JobStatus status, CancellationToken cancellationToken)
    {
        var request = status.Request!;
        byte[] bytes = await inputs.DownloadVideoAsync(request.Video!.Input!, _options.Video.MaxBytes, cancellationToken);
        var source = await new VideoDecoder(_options.Video, inputs.Limits).DecodeAsync(bytes, request.Video, cancellationToken);
        var (width, height) = ImageInput.DefaultSize(source.Width, source.Height, generator.Capabilities.MaxImageSize);
        var plan = JobPlan.Resolve(request, (width, height));
        generator.Validate(plan.Frame(source.Pngs[0], inputs.Limits));
        for (int frame = 0; frame < source.Pngs.Count; frame++)
            await frames.UploadSourceAsync(status.Id, frame, source.Pngs[frame], cancellationToken);
        return (plan.Request, new VideoPlan(source.Pngs.Count, source.Fps, _options.Video.ChunkFrames, [], plan.Request.Width!.Value, plan.Request.Height!.Value));
    }

    /// <summary>One chunk's delivery: run and record it unless recorded already, then assemble if it was the last.</summary>
    private async Task<JobOutcome> ProcessChunkAsync(string id, int chunk, CancellationToken shutdown)
    {
        var stored = await statuses.GetAsync(id, shutdown);
        if (stored?.Status is { IsTerminal: true } ended) return Done(ended);
        if (stored?.Status.Video is not { } plan || chunk >= plan.Chunks)
            return new JobOutcome(JobOutcomeKind.Poison, id, stored?.Status.Status, $"chunk {chunk} is not a chunk of a split video job '{id}'");
        if (!plan.ChunksDone.Contains(chunk))
        {
            if (await RunChunkAsync(stored, chunk, shutdown) is { } stopped) return stopped;
            var update = await statuses.UpdateAsync(id, current => ValueTask.FromResult(
                current?.Status is not { IsTerminal: false, Video: { } now } running || now.ChunksDone.Contains(chunk) ? null
                    : WithPlan(running, now with { ChunksDone = [.. now.ChunksDone, chunk] })),
                plan.Chunks + _options.MaxStatusRaces, CancellationToken.None);
            stored = update.Written ?? update.Current;
            if (stored?.Status is { IsTerminal: false, Video: { } recorded } && !recorded.ChunksDone.Contains(chunk))
                return new JobOutcome(JobOutcomeKind.Retry, id, JobState.Running, $"chunk {chunk}: the status kept changing under this worker");
        }
        if (stored?.Status is not { } status || status.IsTerminal) return stored is null ? new JobOutcome(JobOutcomeKind.Completed, id, null) : Done(stored.Status);
        logger.LogInformation("Video job {Id}: chunk {Chunk} done ({Done}/{Chunks})", id, chunk, status.Video!.ChunksDone.Count, status.Video.Chunks);
        // A redelivered chunk after a crash between the last record and the final status assembles again: same bytes, one final status.
        return status.Video.ChunksDone.Count == status.Video.Chunks ? await AssembleVideoAsync(status, shutdown) : new JobOutcome(JobOutcomeKind.Completed, id, JobState.Running);
    }

    /// <summary>
    /// The chunk's frames as concurrent image-to-image runs, so the batching generator shares UNet batches
    /// between them; null when done, else the delivery's outcome (a retry, a failed job, a cancel).
    /// </summary>
    private async Task<JobOutcome?> RunChunkAsync(StoredStatus stored, int chunk, CancellationToken shutdown)
    {
        var status = stored.Status;
        var video = status.Video!;
        using var canceledByClient = new CancellationTokenSource();
        // The deadline holds for the whole job: any chunk still running at it cancels the job.
        using var deadline = new CancellationTokenSource(UntilDeadline(status), _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(shutdown, canceledByClient.Token, deadline.Token);
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
        var watcher = WatchForCancelAsync(status.Id, stored.ETag, canceledByClient, stopWatching.Token);
        try
        {
            deadline.Token.ThrowIfCancellationRequested();
            var plan = JobPlan.Resolve(status.Request! with { Width = video.Width, Height = video.Height });
            int first = chunk * video.ChunkFrames;
            await Task.WhenAll(Enumerable.Range(first, Math.Min(video.ChunkFrames, video.Frames - first)).Select(async frame =>
            {
                byte[] source = await frames.SourceAsync(status.Id, frame, linked.Token);
                var result = await generator.GenerateAsync(plan.Frame(source, inputs.Limits), null, linked.Token);
                await frames.UploadOutputAsync(status.Id, frame, ImageEncoder.Encode(result.Images[0], OutputFormat.Png, plan.Quality), linked.Token);
            }));
            return null;
        }
        catch (Exception e) when (e is InvalidRequestException or ModelOutputException)
        {
            // What failed one frame fails it on every delivery: the job fails with the chunk's error.
            string code = e is InvalidRequestException invalid ? invalid.Code : ((ModelOutputException)e).Code;
            logger.LogError("Video job {Id} failed in chunk {Chunk}: {Code}: {Message}", status.Id, chunk, code, e.Message);
            return await FinishAsync(Final(status, JobState.Failed, new JobError(code, $"chunk {chunk}: {e.Message}")));
        }
        catch (OperationCanceledException) when (canceledByClient.IsCancellationRequested)
        {
            // The chunk that sees the cancel announces it; chunks still queued find the job ended and stop.
            await images.DeleteAllAsync(status.Id, CancellationToken.None);
            if (await statuses.GetAsync(status.Id, CancellationToken.None) is { } canceled) await PublishAsync(canceled.Status, CancellationToken.None);
            return new JobOutcome(JobOutcomeKind.Completed, status.Id, JobState.Canceled);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !shutdown.IsCancellationRequested)
        {
            await images.DeleteAllAsync(status.Id, CancellationToken.None);
            return await FinishAsync(Final(status, JobState.Canceled, DeadlineExceeded(status.Request!)));
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, "worker shutting down");
        }
        catch (Exception e) when (IsTransient(e))
        {
            logger.LogWarning(e, "Video job {Id}: chunk {Chunk} failed transiently; it will be retried", status.Id, chunk);
            return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, $"chunk {chunk}: {e.Message}", e);
        }
        finally
        {
            await stopWatching.CancelAsync();
            await watcher;
        }
    }

    /// <summary>Encodes the output frames (or copies them, for format frames) and writes the final status, conditionally.</summary>
    private async Task<JobOutcome> AssembleVideoAsync(JobStatus status, CancellationToken shutdown)
    {
        var video = status.Video!;
        var request = status.Request! with { Width = video.Width, Height = video.Height };
        string format = request.Video!.Format!;
        var run = _clock.GetUtcNow() - (status.StartedAt ?? status.CreatedAt);
        JobStatus final;
        try
        {
            var outputs = new List<byte[]>();
            for (int frame = 0; frame < video.Frames; frame++) outputs.Add(await frames.OutputAsync(status.Id, frame, shutdown));
            var stored = new List<JobImage>();
            if (format == "frames")
            {
                for (int frame = 0; frame < outputs.Count; frame++)
                    stored.Add(Image(await images.UploadAsync(status.Id, frame, OutputFormat.Png, outputs[frame], shutdown), request, OutputFormat.Png.ContentType()));
            }
            else
            {
                byte[] bytes = await new VideoEncoder(_options.Video).EncodeAsync(outputs, video.Fps, format, shutdown);
                string contentType = VideoEncoder.ContentType(format);
                stored.Add(Image(await images.UploadVideoAsync(status.Id, format, contentType, bytes, shutdown), request, contentType));
            }
            final = Final(status with { Request = request }, JobState.Succeeded, null) with
            {
                Images = stored,
                Metrics = Metrics(status, run, []) with { FramesPerSecond = video.Frames / run.TotalSeconds },
            };
        }
        catch (InvalidRequestException e)
        {
            final = Final(status with { Request = request }, JobState.Failed, new JobError(e.Code, e.Message)) with { Metrics = Metrics(status, run, []) };
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, "worker shutting down");
        }
        catch (Exception e) when (IsTransient(e))
        {
            logger.LogWarning(e, "Video job {Id} could not be assembled; the last chunk will be retried", status.Id);
            return new JobOutcome(JobOutcomeKind.Retry, status.Id, JobState.Running, e.Message, e);
        }
        return await FinishAsync(final);
    }

    private JobImage Image(string blob, JobRequest request, string contentType) =>
        new(blob, BlobUrls.PlainUrl(images.Container.GetBlobClient(blob)), request.Width!.Value, request.Height!.Value, request.Seed!.Value, contentType);

    /// <summary>The status with its chunk plan, and the progress that the plan's chunks done make.</summary>
    private static JobStatus WithPlan(JobStatus status, VideoPlan plan) => status with
    {
        Video = plan,
        Progress = new JobProgress(status.Request!.Steps!.Value, status.Request.Steps.Value, 0, plan.Frames) { FramesDone = plan.FramesDone, Frames = plan.Frames },
    };
}
