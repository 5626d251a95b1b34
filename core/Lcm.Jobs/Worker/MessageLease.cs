using System.Diagnostics;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// Keeps a received message invisible while its job runs, renewing at half the lease, so a short
/// lease (quick crash recovery) still covers a long job. Each renewal changes the pop receipt.
/// </summary>
internal sealed class MessageLease(QueueClient queue, QueueMessage message, TimeSpan lease, ILogger logger)
{
    private readonly object _gate = new();
    private readonly CancellationTokenSource _lost = new();
    private string _popReceipt = message.PopReceipt;

    public string PopReceipt
    {
        get { lock (_gate) return _popReceipt; }
    }

    public QueueMessage Message => message;

    /// <summary>Renews until disposed; disposing waits for a renewal in flight, so the pop receipt is settled afterwards.</summary>
    public IAsyncDisposable StartRenewing()
    {
        var stop = new CancellationTokenSource();
        return new Renewal(stop, RenewAsync(stop.Token));
    }

    public async Task ReleaseAsync(TimeSpan visibleAfter)
    {
        await queue.UpdateMessageAsync(message.MessageId, PopReceipt, visibilityTimeout: visibleAfter);
    }

    /// <summary>Canceled when the lease is lost for good: another worker may have the message, so this run must stop.</summary>
    public CancellationToken Lost => _lost.Token;

    private async Task RenewAsync(CancellationToken stop)
    {
        var renewed = Stopwatch.StartNew();
        var wait = lease / 2;
        try
        {
            while (true)
            {
                await Task.Delay(wait, stop);
                try
                {
                    // Not canceled by stop: an update aborted in flight may still land and change the pop receipt
                    // without this side learning it, and the delete that follows would then fail.
                    var receipt = await queue.UpdateMessageAsync(message.MessageId, PopReceipt, visibilityTimeout: lease);
                    lock (_gate) _popReceipt = receipt.Value.PopReceipt;
                    renewed.Restart();
                    wait = lease / 2;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // 404: the message or its pop receipt is gone (the lease ran out and another took it).
                    bool gone = e is RequestFailedException { Status: 404 or 400 };
                    if (gone || renewed.Elapsed >= lease)
                    {
                        logger.LogWarning("The lease of message {MessageId} is lost ({Message}); its run stops", message.MessageId, e.Message);
                        await _lost.CancelAsync();
                        return;
                    }
                    // One failure is not the end: try again well before the lease runs out.
                    logger.LogWarning("Renewing the lease of message {MessageId} failed; retrying: {Message}", message.MessageId, e.Message);
                    wait = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(200).Ticks, (lease - renewed.Elapsed).Ticks / 4));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Renewal(CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await loop;
            stop.Dispose();
        }
    }
}
