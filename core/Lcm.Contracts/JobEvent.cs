namespace Lcm.Contracts;

/// <summary>The completion event sent to the results queue and to the job's replyTo queue.</summary>
public sealed record JobCompletedEvent(string Id, JobState Status, IReadOnlyList<JobEventImage> Images, JobError? Error);

public sealed record JobEventImage(string Blob, string Url);

/// <summary>The progress webhook's body: as the status's progress.</summary>
public sealed record JobProgressEvent(string Id, JobState Status, JobProgress Progress);

/// <summary>The started webhook's body: a delivery of the job began running (attempt 1, or a retry).</summary>
public sealed record JobStartedEvent(string Id, JobState Status, int Attempt);
