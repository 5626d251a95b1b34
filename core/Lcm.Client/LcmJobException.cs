using Azure;

namespace Lcm.Client;

/// <summary>
/// The one failure type of <see cref="LcmJobClient"/>: <see cref="RequestFailedException.Status"/> is the
/// HTTP status the HTTP API answers with and <see cref="RequestFailedException.ErrorCode"/> the contract's code
/// (<c>job_exists</c> 409, <c>not_found</c> 404, or a validation code such as <c>invalid_width</c> 400).
/// </summary>
public class LcmJobException(int status, string errorCode, string message)
    : RequestFailedException(status, message, errorCode, null)
{
    public const string JobExists = "job_exists";
    public const string NotFound = "not_found";
    public const string InvalidIdempotencyKey = "invalid_idempotency_key";
    public const string IdempotencyConflict = "idempotency_conflict";

    internal static LcmJobException NoSuchJob(string id) => new(404, NotFound, $"there is no job with id '{id}'");
}
