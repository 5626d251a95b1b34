namespace Lcm.Contracts;

/// <summary>The queues and containers of the service. The jobs and results queue names are settings; the rest are fixed by the contract.</summary>
public sealed record StorageNames
{
    public string JobsQueue { get; init; } = "lcm-jobs";
    /// <summary>Null when completion events are turned off.</summary>
    public string? ResultsQueue { get; init; } = "lcm-results";
    public string PoisonQueue => JobsQueue + "-poison";
    /// <summary>Webhook deliveries waiting for their (next) attempt.</summary>
    public string WebhooksQueue => JobsQueue + "-webhooks";
    public const string ImagesContainer = "lcm-images";
    public const string StatusContainer = "lcm-status";
    public const string InputsContainer = "lcm-inputs";
    public const string RequestsContainer = "lcm-requests";
    /// <summary>Video jobs' source and output frames between the split and the assembly.</summary>
    public const string FramesContainer = "lcm-frames";
    /// <summary>How long statuses and images are kept: the storage lifecycle rule's days (LCM_RETENTION_DAYS, 7 by default).</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Whether <paramref name="queue"/> is one of the service's own queues, which no job may name as its replyTo.</summary>
    public bool IsServiceQueue(string queue) => queue == JobsQueue || queue == PoisonQueue || queue == ResultsQueue || queue == WebhooksQueue;

    /// <summary>The refusal of a replyTo that names one of the service's own queues; null for any other.</summary>
    public JobError? ReplyToError(string? replyTo) => replyTo is not null && IsServiceQueue(replyTo)
        ? new JobError(JobErrorCodes.InvalidReplyTo, $"replyTo '{replyTo}' is one of this service's own queues; name a queue of yours")
        : null;

    /// <summary>LCM_JOBS_QUEUE, LCM_RESULTS_QUEUE and LCM_PUBLISH_RESULTS (true|false).</summary>
    public static StorageNames FromSettings(Func<string, string?> read)
    {
        var names = new StorageNames();
        if (read("LCM_JOBS_QUEUE") is { Length: > 0 } jobs) names = names with { JobsQueue = CheckQueue("LCM_JOBS_QUEUE", jobs) };
        if (read("LCM_RESULTS_QUEUE") is { Length: > 0 } results) names = names with { ResultsQueue = CheckQueue("LCM_RESULTS_QUEUE", results) };
        if (Settings.ReadBool(read, "LCM_PUBLISH_RESULTS") == false) names = names with { ResultsQueue = null };
        if (Settings.ReadInt(read, "LCM_RETENTION_DAYS", 1, 3650) is int days) names = names with { Retention = TimeSpan.FromDays(days) };
        return names;
    }

    private static string CheckQueue(string setting, string name) => Names.IsValidQueueName(name) ? name
        : throw new ArgumentException($"{setting} must be a storage queue name (3-63 of a-z, 0-9 and single '-'), found '{name}'");
}
