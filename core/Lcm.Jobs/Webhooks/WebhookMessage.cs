namespace Lcm.Jobs;

/// <summary>
/// One webhook delivery waiting on the webhooks queue: the body is fixed when the event happens, so
/// every retry sends the same bytes under the same <see cref="WebhookId"/> (receivers deduplicate by it).
/// </summary>
public sealed record WebhookMessage(string JobId, string Event, string Url, string WebhookId, string Body, int Attempt, DateTimeOffset FirstQueuedAt);
