using Azure.Core;
using Lcm.Client;

namespace Lcm.Jobs;

/// <summary>Where completion events are published as CloudEvents, if anywhere (LCM_EVENTGRID_TOPIC_ENDPOINT).</summary>
public sealed record EventGridOptions
{
    /// <summary>The topic's endpoint (…/api/events); null publishes nothing.</summary>
    public Uri? Endpoint { get; init; }
    /// <summary>LCM_EVENTGRID_TOPIC_KEY: an access key, for local testing; without one the worker's identity (EventGrid Data Sender) signs.</summary>
    public string? Key { get; init; }
    /// <summary>The identity used without a key.</summary>
    public TokenCredential? Credential { get; init; }
    /// <summary>A publish that takes longer is given up (logged and counted): the job is done either way.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    public static EventGridOptions FromSettings(Func<string, string?> read)
    {
        if (read("LCM_EVENTGRID_TOPIC_ENDPOINT") is not { Length: > 0 } endpoint) return new EventGridOptions();
        string? key = read("LCM_EVENTGRID_TOPIC_KEY") is { Length: > 0 } k ? k : null;
        return new EventGridOptions { Endpoint = new Uri(endpoint), Key = key, Credential = key is null ? StorageAccount.Credential(read) : null };
    }
}
