using System.Text;
using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;
using Microsoft.Extensions.Logging;

namespace Lcm.Functions;

/// <summary>
/// The job processor as the Functions queue trigger needs it. The host has already decoded the
/// base64 text; returning deletes the message, throwing leaves it to the host's retries and, after
/// maxDequeueCount, its poison queue.
/// </summary>
public sealed class QueueTriggerHandler(JobProcessor processor, JobQueues queues, ILogger logger)
{
    public async Task HandleAsync(string messageText, string messageId, long dequeueCount, DateTimeOffset? insertedOn, CancellationToken cancellationToken)
    {
        var delivery = new JobDelivery(JobMessage.FromJson(Encoding.UTF8.GetBytes(messageText), messageId), messageId, dequeueCount, insertedOn);
        var outcome = await processor.ProcessAsync(delivery, cancellationToken);
        switch (outcome.Kind)
        {
            case JobOutcomeKind.Poison:
                logger.LogWarning("Message {MessageId} moved to {Queue}: {Reason}", messageId, queues.Names.PoisonQueue, outcome.Reason);
                await queues.SendPoisonAsync(messageId, dequeueCount, outcome.Reason ?? "unreadable message", messageText, cancellationToken);
                return;
            case JobOutcomeKind.Retry:
                throw new JobRetryException($"job {outcome.JobId} will be retried: {outcome.Reason}", outcome.Exception);
        }
    }

    /// <summary>
    /// A message in the poison queue. The host moves the original job message there after its
    /// retries; its job (when the message names its id) is marked failed with retries_exhausted.
    /// Records written by this service with a reason were handled when written.
    /// </summary>
    public async Task HandlePoisonAsync(string messageText, CancellationToken cancellationToken)
    {
        byte[] body = Encoding.UTF8.GetBytes(messageText);
        if (IsPoisonRecord(body)) return;
        // A storage event names its job by the request blob, not by its own "id" (the event's).
        var parsed = JobMessage.FromJson(body, messageId: "");
        if ((parsed.Kind == JobMessageKind.RequestBlobEvent ? parsed.JobId : JobMessage.DeclaredId(body)) is not { } id)
        {
            logger.LogWarning("A poisoned job message names no id; no status can be updated");
            return;
        }
        await processor.MarkRetriesExhaustedAsync(id, "the job failed on every delivery and was moved to the poison queue", cancellationToken);
    }

    private static bool IsPoisonRecord(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("reason", out _) && document.RootElement.TryGetProperty("originalMessage", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

/// <summary>Thrown to the Functions host so that it retries the message.</summary>
public sealed class JobRetryException(string message, Exception? inner) : Exception(message, inner);
