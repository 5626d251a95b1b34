namespace Lcm.Contracts;

/// <summary>The contract's rules for a job's webhook; which hosts a worker will call is its own policy (WebhookPolicy).</summary>
public static class Webhooks
{
    public const string Started = "started";
    public const string Progress = "progress";
    public const string Completed = "completed";
    public static readonly IReadOnlyList<string> Events = [Started, Progress, Completed];
    public const int MaxUrlLength = 2048;

    /// <summary>The events a webhook gets: those named, or completed only.</summary>
    public static IReadOnlyList<string> EventsOf(JobRequest request) => request.WebhookEvents ?? [Completed];

    /// <summary>Why a webhook and its events are not well-formed, or null.</summary>
    public static JobError? ShapeError(string? webhook, IReadOnlyList<string>? events)
    {
        if (webhook is null)
            return events is null ? null : new JobError(JobErrorCodes.InvalidWebhook, "webhookEvents needs a webhook URL");
        if (webhook.Length > MaxUrlLength || !Uri.TryCreate(webhook, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http")
            || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
            return new JobError(JobErrorCodes.InvalidWebhook, $"webhook must be an absolute https URL of at most {MaxUrlLength} characters, without user info or fragment");
        if (events is not null && (events.Count == 0 || events.Any(e => !Events.Contains(e)) || events.Distinct().Count() != events.Count))
            return new JobError(JobErrorCodes.InvalidWebhook, $"webhookEvents must name each of {string.Join(", ", Events)} at most once, found [{string.Join(", ", events)}]");
        return null;
    }
}
