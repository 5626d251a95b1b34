namespace Lcm.Contracts;

/// <summary>
/// What the poison queue holds for a message the worker gave up on: why, and the original text,
/// inline when small, else in the blob <see cref="OriginalBlob"/> of <c>lcm-status</c> (a queue
/// message holds 64 KB at most, so a large original would make the record itself undeliverable).
/// </summary>
public sealed record PoisonRecord(string MessageId, long DequeueCount, string Reason, string? OriginalMessage, string? OriginalBlob = null)
{
    /// <summary>Originals up to this many characters stay in the record.</summary>
    public const int MaxInlineOriginal = 8 * 1024;

    /// <summary>Where a large original is kept.</summary>
    public static string BlobName(string messageId) => $"poison/{messageId}.txt";
}
