using Azure.Storage.Queues.Models;
using Microsoft.Azure.Functions.Worker;

namespace Lcm.Functions;

/// <summary>The jobs queue trigger: a thin adapter over the core's <see cref="QueueTriggerHandler"/>.</summary>
public sealed class GenerateImage(QueueTriggerHandler handler)
{
    [Function(nameof(GenerateImage))]
    public Task Run([QueueTrigger("%LCM_JOBS_QUEUE%", Connection = "AzureWebJobsStorage")] QueueMessage message, CancellationToken cancellationToken) =>
        handler.HandleAsync(message.MessageText, message.MessageId, message.DequeueCount, message.InsertedOn, cancellationToken);
}

/// <summary>Marks jobs whose messages the host moved to the poison queue as failed (<c>retries_exhausted</c>).</summary>
public sealed class PoisonJobs(QueueTriggerHandler handler)
{
    [Function(nameof(PoisonJobs))]
    public Task Run([QueueTrigger("%LCM_JOBS_QUEUE%-poison", Connection = "AzureWebJobsStorage")] QueueMessage message, CancellationToken cancellationToken) =>
        handler.HandlePoisonAsync(message.MessageText, cancellationToken);
}
