using Lcm.Contracts;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;

namespace Lcm.Jobs;

/// <summary>
/// Every setting of the job service, by the one name it has everywhere (environment variable =
/// app setting = local.settings.json key). See local.settings.sample.json and README.
/// </summary>
public sealed record WorkerSettings
{
    public StorageNames Names { get; init; } = new();
    public EngineOptions Engine { get; init; } = new();
    public QueueSettings Queue { get; init; } = new();
    public JobProcessorOptions Processor { get; init; } = new();
    public BatchingOptions Batching { get; init; } = new();
    public LoraSettings Lora { get; init; } = new();
    /// <summary>How long a received message stays invisible before the lease is renewed (LCM_MESSAGE_LEASE_SECONDS).</summary>
    public TimeSpan MessageLease { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>How often <c>lcm worker</c> looks for request blobs (LCM_POLL_REQUESTS_SECONDS); null where Event Grid delivers them.</summary>
    public TimeSpan? RequestPollInterval { get; init; }
    /// <summary>
    /// How long <c>lcm worker</c>'s running jobs may take to finish once it is told to stop, before their messages are
    /// handed back (LCM_SHUTDOWN_GRACE_SECONDS): under the container's terminationGracePeriodSeconds (120), with time to hand back.
    /// </summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(110);
    /// <summary>The port of <c>lcm worker</c>'s /healthz and /readyz (LCM_HEALTH_PORT); null for none.</summary>
    public int? HealthPort { get; init; }
    /// <summary>Where the health endpoint listens (LCM_HEALTH_ADDRESS): loopback unless a probe from outside needs it; <c>*</c> for every interface.</summary>
    public string HealthAddress { get; init; } = "127.0.0.1";

    public static WorkerSettings FromEnvironment(Func<string, string?>? read = null)
    {
        read ??= Environment.GetEnvironmentVariable;
        var settings = new WorkerSettings
        {
            Names = StorageNames.FromSettings(read),
            Engine = EngineSettings.ReadEngine(read),
            Queue = QueueSettings.Load(read),
            Batching = EngineSettings.ReadBatching(read),
            Lora = LoraSettings.FromEnvironment(read),
        };
        if (Settings.ReadInt(read, "LCM_MESSAGE_LEASE_SECONDS", 2, 600) is int lease)
            settings = settings with { MessageLease = TimeSpan.FromSeconds(lease) };
        if (Settings.ReadInt(read, "LCM_POLL_REQUESTS_SECONDS", 0, 3600) is int requests and > 0)
            settings = settings with { RequestPollInterval = TimeSpan.FromSeconds(requests) };
        if (Settings.ReadInt(read, "LCM_SHUTDOWN_GRACE_SECONDS", 0, 3600) is int grace)
            settings = settings with { ShutdownGrace = TimeSpan.FromSeconds(grace) };
        if (Settings.ReadInt(read, "LCM_HEALTH_PORT", 1, 65535) is int port)
            settings = settings with { HealthPort = port };
        if (read("LCM_HEALTH_ADDRESS") is { Length: > 0 } address)
            settings = settings with { HealthAddress = address };
        if (Settings.ReadInt(read, "LCM_CANCEL_POLL_MS", 50, 60_000) is int poll)
            settings = settings with { Processor = settings.Processor with { CancelPollInterval = TimeSpan.FromMilliseconds(poll) } };
        settings = settings with { Processor = settings.Processor with { InputLimits = EngineSettings.ReadInputLimits(read), Webhooks = WebhookOptions.FromSettings(read), EventGrid = EventGridOptions.FromSettings(read), Video = VideoOptions.FromSettings(read) } };
        if (Settings.ReadInt(read, "LCM_PROGRESS_MS", 50, 600_000) is int progressMs)
            settings = settings with { Processor = settings.Processor with { ProgressInterval = TimeSpan.FromMilliseconds(progressMs) } };
        if (Settings.ReadInt(read, "LCM_SAS_MINUTES", 1, 7 * 24 * 60) is int sas)
            settings = settings with { Processor = settings.Processor with { SasLifetime = TimeSpan.FromMinutes(sas) } };
        return settings;
    }
}
