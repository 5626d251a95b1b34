using Azure;
using Azure.Storage.Queues.Models;
using Lcm.Client;
using Lcm.Contracts;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The Functions queue trigger's behaviour outside the host: receive with a lease that is renewed
/// while a job runs, delete on completion, retry after a failure, poison after maxDequeueCount.
/// On shutdown it takes no more messages, gives running jobs <c>shutdownGrace</c> to finish and
/// hands back the messages of those still running.
/// </summary>
internal sealed class QueueWorker(JobProcessor processor, JobQueues queues, QueueSettings settings, TimeSpan messageLease, TimeSpan shutdownGrace, ILogger logger)
{
    private static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(100);
    private readonly StorageOutage _outage = new();

    /// <summary>Why storage fails the worker (an outage), or null while it works; the worker keeps trying.</summary>
    public string? Outage => _outage.Describe(queues.Jobs.Name);

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        // Canceled only once the grace is over: stopping alone ends the receiving, not the jobs.
        using var handBack = new CancellationTokenSource();
        var running = new List<Task>();
        var idle = MinPollingInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            running.RemoveAll(t => t.IsCompleted);
            int free = settings.Concurrency - running.Count;
            QueueMessage[] messages = [];
            if (free > 0)
            {
                try
                {
                    messages = (await queues.Jobs.ReceiveMessagesAsync(Math.Min(free, Math.Min(settings.BatchSize, 32)), messageLease, stoppingToken)).Value;
                    _outage.Ended(logger, queues.Jobs.Name);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    // A storage outage (the SDK's retries give up with an AggregateException): ride it out and resume.
                    idle = _outage.Failed(logger, queues.Jobs.Name, e, settings.MaxPollingInterval);
                }
            }
            foreach (var message in messages) running.Add(HandleAsync(message, handBack.Token));
            if (messages.Length > 0)
            {
                idle = MinPollingInterval;
                continue;
            }
            // Back off like the host's queue poller: double the wait while idle, up to maxPollingInterval.
            // A full worker waits for one of its jobs to end or for the stop, whichever comes first: the jobs go on
            // after the stop, and their grace starts there.
            var wait = running.Count >= settings.Concurrency ? Task.WhenAny(running).WaitAsync(stoppingToken) : Task.Delay(idle, stoppingToken);
            try
            {
                await wait;
            }
            catch (OperationCanceledException)
            {
                break;
            }
            if (running.Count < settings.Concurrency && !_outage.IsActive) idle = TimeSpan.FromTicks(Math.Min(idle.Ticks * 2, settings.MaxPollingInterval.Ticks));
        }
        await FinishOrHandBackAsync(running, handBack);
    }

    /// <summary>
    /// A job that finishes within the grace is not run twice; one that cannot is handed back before
    /// the platform's kill (terminationGracePeriodSeconds) so another worker takes it at once.
    /// </summary>
    private async Task FinishOrHandBackAsync(List<Task> running, CancellationTokenSource handBack)
    {
        running.RemoveAll(t => t.IsCompleted);
        if (running.Count > 0 && shutdownGrace > TimeSpan.Zero)
        {
            logger.LogInformation("Stopping: {Count} running job(s) get up to {Seconds:F0} s to finish", running.Count, shutdownGrace.TotalSeconds);
            await Task.WhenAny(Task.WhenAll(running), Task.Delay(shutdownGrace));
        }
        await handBack.CancelAsync();
        await Task.WhenAll(running);
    }

    private async Task HandleAsync(QueueMessage message, CancellationToken handBackToken)
    {
        var lease = new MessageLease(queues.Jobs, message, messageLease, logger);
        try
        {
            if (message.DequeueCount > settings.MaxDequeueCount)
            {
                await PoisonAsync(lease, $"delivered {message.DequeueCount} times, more than maxDequeueCount ({settings.MaxDequeueCount})");
                return;
            }
            var delivery = new JobDelivery(JobMessage.FromBase64(message.MessageText, message.MessageId), message.MessageId, message.DequeueCount, message.InsertedOn);
            JobOutcome outcome;
            await using (lease.StartRenewing())
            {
                using var run = CancellationTokenSource.CreateLinkedTokenSource(handBackToken, lease.Lost);
                try
                {
                    outcome = await processor.ProcessAsync(delivery, run.Token);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    outcome = new JobOutcome(JobOutcomeKind.Retry, delivery.Message.JobId, null, e.Message, e);
                }
            }
            if (outcome is { Kind: JobOutcomeKind.Retry, Exception: { } failure } && StorageOutage.IsStorageFailure(failure))
                _outage.Noticed(logger, queues.Jobs.Name, failure);
            if (lease.Lost.IsCancellationRequested)
            {
                logger.LogWarning("Job {Id} stopped: the lease of its message was lost, so another delivery runs it", outcome.JobId);
                return;
            }
            switch (outcome.Kind)
            {
                case JobOutcomeKind.Completed:
                    await queues.Jobs.DeleteMessageAsync(message.MessageId, lease.PopReceipt, CancellationToken.None);
                    break;
                case JobOutcomeKind.Poison:
                    await queues.MoveToPoisonAsync(message, lease.PopReceipt, outcome.Reason ?? "unreadable message", CancellationToken.None);
                    break;
                case JobOutcomeKind.Retry when handBackToken.IsCancellationRequested:
                    await lease.ReleaseAsync(TimeSpan.Zero);
                    break;
                case JobOutcomeKind.Retry when message.DequeueCount >= settings.MaxDequeueCount:
                    await PoisonAsync(lease, $"failed {message.DequeueCount} times; last error: {outcome.Reason}", outcome.JobId);
                    break;
                default:
                    logger.LogWarning("Job {Id} will be retried in {Delay}: {Reason}", outcome.JobId, settings.VisibilityTimeout, outcome.Reason);
                    await lease.ReleaseAsync(settings.VisibilityTimeout);
                    break;
            }
        }
        catch (Exception e) when (e is RequestFailedException or IOException or OperationCanceledException || StorageOutage.IsStorageFailure(e))
        {
            // The message stays locked until its lease runs out, then comes back: nothing is lost.
            if (StorageOutage.IsStorageFailure(e)) _outage.Noticed(logger, queues.Jobs.Name, e);
            logger.LogWarning("Message {MessageId} left to its lease: {Message}", message.MessageId, e.Message);
        }
        catch (Exception e)
        {
            // A bug must not vanish inside a task nobody awaits: log it; the lease brings the message back.
            logger.LogError(e, "Message {MessageId} failed unexpectedly; it returns when its lease runs out", message.MessageId);
        }
    }

    private async Task PoisonAsync(MessageLease lease, string reason, string? jobId = null)
    {
        var message = lease.Message;
        jobId ??= JobMessage.FromBase64(message.MessageText, message.MessageId).JobId;
        logger.LogWarning("Message {MessageId} (job {Id}) moved to {Queue}: {Reason}", message.MessageId, jobId, queues.Names.PoisonQueue, reason);
        await queues.MoveToPoisonAsync(message, lease.PopReceipt, reason, CancellationToken.None);
        if (jobId is not null) await processor.MarkRetriesExhaustedAsync(jobId, reason, CancellationToken.None);
    }
}
