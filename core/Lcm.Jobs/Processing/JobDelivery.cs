using Lcm.Contracts;

namespace Lcm.Jobs;

/// <summary>One delivery of a job message: the message read as a job, and the queue's facts about it.</summary>
public sealed record JobDelivery(JobMessage Message, string MessageId, long DequeueCount, DateTimeOffset? InsertedOn);

public enum JobOutcomeKind
{
    /// <summary>The job reached a final status (or already had one): delete the message.</summary>
    Completed,
    /// <summary>The message cannot become a job (no usable id): move it to the poison queue with the reason.</summary>
    Poison,
    /// <summary>A transient failure or a shutdown: leave the message to be delivered again.</summary>
    Retry,
}

public sealed record JobOutcome(JobOutcomeKind Kind, string? JobId, JobState? State, string? Reason = null, Exception? Exception = null);
