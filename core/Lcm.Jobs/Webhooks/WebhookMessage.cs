namespace Lcm.Jobs;

/// <summary>
/// One webhook delivery waiting on the webhooks queue: the body is fixed when the event happens, so
/// every retry sends the same bytes under the same <see cref="WebhookId"/> (receivers deduplicate by it).
/// <see cref="Traceparent"/> is the job's span where the event happened, so each delivery joins the job's trace.
/// </summary>
public sealed record WebhookMessage(string JobId, string Event, string Url, string WebhookId, string Body, int Attempt, DateTimeOffset FirstQueuedAt,
    string? Traceparent = null);
