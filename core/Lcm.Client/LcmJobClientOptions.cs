using Lcm.Contracts;

namespace Lcm.Client;

public sealed record LcmJobClientOptions
{
    public StorageNames Names { get; init; } = new();
    /// <summary>How long the read SAS of an image URL handed out by the client stays valid.</summary>
    public TimeSpan SasLifetime { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>How often <see cref="LcmJobClient.WaitForCompletionAsync"/> reads the status.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Which webhook URLs submit accepts; the worker checks again with its own policy.</summary>
    public WebhookPolicy Webhooks { get; init; } = new();
}
