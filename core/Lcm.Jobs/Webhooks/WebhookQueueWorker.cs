using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The webhooks queue outside the Functions host: receives due deliveries, hands each to the
/// dispatcher and deletes it; a delivery whose attempt failed was queued again by the dispatcher.
/// A crash between attempt and delete repeats the attempt, under the same webhook-id.
/// </summary>
internal sealed class WebhookQueueWorker(WebhookDispatcher dispatcher, QueueClient queue, QueueSettings settings, ILogger logger)
{
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var outage = new StorageOutage();
        var idle = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Twice the receiver timeout: the message must stay hidden while its attempt runs.
                var messages = (await queue.ReceiveMessagesAsync(16, dispatcher.Options.Timeout * 2, stoppingToken)).Value;
                outage.Ended(logger, queue.Name);
                await Task.WhenAll(messages.Select(async message =>
                {
                    if (dispatcher.Read(message.MessageText, base64: true) is { } delivery) await dispatcher.DeliverAsync(delivery, stoppingToken);
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, CancellationToken.None);
                }));
                idle = messages.Length > 0 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromTicks(Math.Min(idle.Ticks * 2, settings.MaxPollingInterval.Ticks));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                idle = outage.Failed(logger, queue.Name, e, settings.MaxPollingInterval);
            }
            try
            {
                await Task.Delay(idle, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
