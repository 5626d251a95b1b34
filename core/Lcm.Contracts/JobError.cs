namespace Lcm.Contracts;

/// <summary>An error a job ends with: a stable code and a message a person can act on.</summary>
public sealed record JobError(string Code, string Message);

/// <summary>A job that can never succeed as sent: it fails at once and is not retried.</summary>
public sealed class JobRejectedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>The stable error codes of the job contract (the engine's validation codes come from the request).</summary>
public static class JobErrorCodes
{
    public const string InvalidEncoding = "invalid_encoding";
    public const string InvalidJson = "invalid_json";
    public const string UnknownField = "unknown_field";
    public const string InvalidType = "invalid_type";
    public const string InvalidId = "invalid_id";
    public const string InvalidFormat = "invalid_format";
    public const string InvalidQuality = "invalid_quality";
    public const string InvalidReplyTo = "invalid_reply_to";
    public const string MessageTooLarge = "message_too_large";
    public const string RetriesExhausted = "retries_exhausted";
    public const string InvalidInitImage = "invalid_init_image";
    public const string InitImageNotFound = "init_image_not_found";
    public const string RequestNotFound = "request_not_found";
    public const string UnsupportedEvent = "unsupported_event";
    /// <summary>A message names the id of a job it is not the request of; it goes to the poison queue, the job is untouched.</summary>
    public const string IdConflict = "id_conflict";
}
