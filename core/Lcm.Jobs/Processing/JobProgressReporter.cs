using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// Writes a running job's progress into its status, at most once per interval and only the latest
/// step, so a fast model does not turn each step into a storage write; each write is conditional and
/// only while the status is still this attempt's running one, and disposing waits for the write in
/// flight, so progress never lands over the final status. Progress webhooks go out with the writes.
/// </summary>
internal sealed class JobProgressReporter(JobStatus running, StatusStore statuses, WebhookDispatcher webhooks, TimeSpan interval, ILogger logger)
    : IProgress<StepProgress>, IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private StepProgress? _latest;
    private Task _writer = Task.CompletedTask;

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
            lock (_gate)
            {
                if (_latest is not { } latest || _stop.IsCancellationRequested) return;
                (step, _latest) = (latest, null);
            }
            var progress = new JobProgress(step.Step, step.Steps, step.Image, step.Images);
            try
            {
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
