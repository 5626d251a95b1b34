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

    private async Task RenewAsync(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(lease / 2, stop);
                // Not canceled by stop: an update aborted in flight may still land and change the pop receipt
                // without this side learning it, and the delete that follows would then fail.
                var receipt = await queue.UpdateMessageAsync(message.MessageId, PopReceipt, visibilityTimeout: lease);
                lock (_gate) _popReceipt = receipt.Value.PopReceipt;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            logger.LogWarning("Renewing the lease of message {MessageId} failed: {Message}", message.MessageId, e.Message);
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
