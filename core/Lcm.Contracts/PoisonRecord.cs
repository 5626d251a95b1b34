namespace Lcm.Contracts;

/// <summary>What the poison queue holds for a message the worker gave up on: the original text and why.</summary>
public sealed record PoisonRecord(string MessageId, long DequeueCount, string Reason, string OriginalMessage);
