using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// Writes a running job's progress into its status, at most once per interval and only the latest
/// step, so a fast model does not turn each step into a storage write; each write is conditional and
/// only while the status is still this attempt's running one, and disposing waits for the write in
/// flight, so progress never lands over the final status. Progress webhooks go out with the writes.
/// With <paramref name="previews"/>, each write first draws the latest step's preview and uploads it,
/// so the drawing, too, happens at most once per interval.
/// </summary>
internal sealed class JobProgressReporter(JobStatus running, StatusStore statuses, WebhookDispatcher webhooks, TimeSpan interval, ILogger logger,
    ImageStore? previews = null) : IProgress<StepProgress>, IProgress<LatentPreview>, IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private StepProgress? _latest;
    private LatentPreview? _latestPreview;
    private JobPreview? _preview;
    private Task _writer = Task.CompletedTask;

    /// <summary>Comes just before its step's <see cref="StepProgress"/>, whose write then draws it.</summary>
    public void Report(LatentPreview value)
    {
        lock (_gate) _latestPreview = value;
    }

    public void Report(StepProgress value)
    {
        lock (_gate)
        {
            _latest = value;
            if (_writer.IsCompleted && !_stop.IsCancellationRequested) _writer = Task.Run(WriteAsync);
        }
    }

    private async Task WriteAsync()
    {
        while (true)
        {
            StepProgress step;
            LatentPreview? drawn;
            lock (_gate)
            {
                if (_latest is not { } latest || _stop.IsCancellationRequested) return;
                (step, _latest, drawn, _latestPreview) = (latest, null, _latestPreview, null);
            }
            try
            {
                if (drawn is not null && previews is not null) _preview = await UploadPreviewAsync(drawn, previews) ?? _preview;
                var progress = new JobProgress(step.Step, step.Steps, step.Image, step.Images) { Preview = _preview };
                var update = await statuses.UpdateAsync(running.Id, stored => ValueTask.FromResult(
                    stored?.Status is { Status: JobState.Running } current && current.Attempts == running.Attempts ? current with { Progress = progress } : null),
                    maxRaces: 2, _stop.Token);
                if (update.Written is not null)
                    await webhooks.EnqueueAsync(running with { Progress = progress }, Webhooks.Progress, new JobProgressEvent(running.Id, JobState.Running, progress),
                        _stop.Token, $".{running.Attempts}.{step.Image}.{step.Step}");
                await Task.Delay(interval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is Azure.RequestFailedException or IOException or HttpRequestException)
            {
                // Progress is news, not the job: a failed write is skipped.
                logger.LogDebug("Progress of job {Id} not written: {Message}", running.Id, e.Message);
            }
        }
    }

    /// <summary>The preview drawn and stored; null (logged) where drawing it failed: a preview is news, not the job.</summary>
    private async Task<JobPreview?> UploadPreviewAsync(LatentPreview preview, ImageStore store)
    {
        byte[] jpeg;
        try
        {
            jpeg = ImageEncoder.EncodePreview(preview.Render());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogDebug("Preview of job {Id} at step {Step} not drawn: {Message}", running.Id, preview.Step, e.Message);
            return null;
        }
        string blob = await store.UploadPreviewAsync(running.Id, jpeg, _stop.Token);
        return new JobPreview(blob, BlobUrls.PlainUrl(store.Container.GetBlobClient(blob)), preview.Step);
    }

    public async ValueTask DisposeAsync()
    {
        Task writer;
        lock (_gate)
        {
            _stop.Cancel();
            writer = _writer;
        }
        await writer;
        _stop.Dispose();
    }
}
