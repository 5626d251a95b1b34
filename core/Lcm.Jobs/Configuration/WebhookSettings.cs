using Lcm.Client;
using Lcm.Contracts;

namespace Lcm.Jobs;

/// <summary>How webhooks are signed, which URLs are called, and how a completed event is retried.</summary>
public sealed record WebhookOptions
{
    /// <summary>LCM_WEBHOOK_SECRET: one or more <c>whsec_</c> secrets, space-separated; each signs every delivery, so a receiver can move to a new one.</summary>
    public IReadOnlyList<byte[]> Keys { get; init; } = [];
    public WebhookPolicy Policy { get; init; } = new();
    /// <summary>A receiver that has not answered within this is retried (completed events) or skipped.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The waits before each retry of a completed event: about an hour in all, then it is given up.</summary>
    public IReadOnlyList<TimeSpan> RetryDelays { get; init; } =
        [.. new[] { 5, 30, 120, 300, 600, 900, 900, 900 }.Select(seconds => TimeSpan.FromSeconds(seconds))];
    /// <summary>At most this much of a receiver's answer is read: the status code is what counts.</summary>
    public int MaxResponseBytes { get; init; } = 64 * 1024;

    /// <summary>LCM_WEBHOOK_SECRET, LCM_WEBHOOK_ALLOW_HTTP_LOOPBACK and LCM_WEBHOOK_ALLOWED_HOSTS.</summary>
    public static WebhookOptions FromSettings(Func<string, string?> read) => new()
    {
        Keys = (read("LCM_WEBHOOK_SECRET") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(WebhookSignature.Key).ToArray(),
        Policy = WebhookPolicy.FromSettings(read),
    };
}
