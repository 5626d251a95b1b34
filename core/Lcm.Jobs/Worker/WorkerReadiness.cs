namespace Lcm.Jobs;

/// <summary>Whether the local worker takes messages now, and if not why: what /readyz reports.</summary>
internal sealed record WorkerReadiness(string State, string? Detail = null)
{
    public const string Starting = "starting";
    public const string Receiving = "receiving";
    public const string StorageUnreachable = "storage_unreachable";
    public const string Stopping = "stopping";

    public bool IsReady => State == Receiving;
}
