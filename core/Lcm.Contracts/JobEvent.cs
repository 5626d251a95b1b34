namespace Lcm.Contracts;

/// <summary>The completion event sent to the results queue and to the job's replyTo queue.</summary>
public sealed record JobCompletedEvent(string Id, JobState Status, IReadOnlyList<JobEventImage> Images, JobError? Error);

public sealed record JobEventImage(string Blob, string Url);
