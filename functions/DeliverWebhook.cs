using Azure.Storage.Queues.Models;
using Lcm.Jobs;
using Microsoft.Azure.Functions.Worker;

namespace Lcm.Functions;

/// <summary>The webhooks queue trigger: one attempt per message; a failed attempt was queued again by the dispatcher, with its delay.</summary>
public sealed class DeliverWebhook(WebhookDispatcher dispatcher)
{
    [Function(nameof(DeliverWebhook))]
    public async Task Run([QueueTrigger("%LCM_JOBS_QUEUE%-webhooks", Connection = "AzureWebJobsStorage")] QueueMessage message, CancellationToken cancellationToken)
    {
        if (dispatcher.Read(message.MessageText, base64: false) is { } delivery) await dispatcher.DeliverAsync(delivery, cancellationToken);
    }
}
