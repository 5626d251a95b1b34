using Lcm.Client;
using Lcm.Contracts;

namespace Lcm.Functions;

/// <summary>An HTTP answer without the HTTP: the status code, the JSON body and, for a new job, where it lives.</summary>
public sealed record ApiResult(int StatusCode, object Body, string? Location = null);

/// <summary>
/// The HTTP API for clients that hold no storage credentials: submit, status (with fresh image
/// URLs) and cancel. The function app maps routes onto it; the logic is testable without a host.
/// </summary>
public sealed class JobApi(LcmJobClient client)
{
    /// <summary>As the bytes overload, reading the body only up to the contract's limit: 413 for a larger one.</summary>
    public async Task<ApiResult> SubmitAsync(Stream body, Func<string, string> statusUrl, CancellationToken cancellationToken) =>
        await BoundedRead.ReadAsync(body, JobRequest.MaxMessageBytes, cancellationToken) is { } bytes
            ? await SubmitAsync(bytes, statusUrl, cancellationToken)
            : new ApiResult(413, new { error = new JobError(JobErrorCodes.MessageTooLarge, $"the request body is over {JobRequest.MaxMessageBytes} bytes; at most {JobRequest.MaxMessageBytes} are accepted") });

    /// <summary>202 with the id and where to poll (<paramref name="statusUrl"/> of the id), 400 for a bad request, 409 for a taken id.</summary>
    public async Task<ApiResult> SubmitAsync(ReadOnlyMemory<byte> body, Func<string, string> statusUrl, CancellationToken cancellationToken)
    {
        var message = JobMessage.FromJson(body.Span, Guid.NewGuid().ToString("N"));
        if (message.Error is { } error) return new ApiResult(400, new { error });
        try
        {
            var status = await client.SubmitAsync(message.Request! with { Id = message.JobId }, cancellationToken);
            string url = statusUrl(status.Id);
            return new ApiResult(202, new { id = status.Id, status = status.Status, statusUrl = url }, url);
        }
        catch (LcmJobException e)
        {
            return Failure(e);
        }
    }

    public async Task<ApiResult> GetAsync(string id, CancellationToken cancellationToken)
    {
        if (!Names.IsValidId(id)) return new ApiResult(400, new { error = new JobError(JobErrorCodes.InvalidId, $"'{id}' is not a job id") });
        var status = await client.GetStatusAsync(id, cancellationToken);
        return status is null ? NotFound(id) : new ApiResult(200, status);
    }

    public async Task<ApiResult> CancelAsync(string id, CancellationToken cancellationToken)
    {
        if (!Names.IsValidId(id)) return new ApiResult(400, new { error = new JobError(JobErrorCodes.InvalidId, $"'{id}' is not a job id") });
        try
        {
            return new ApiResult(200, await client.CancelAsync(id, cancellationToken));
        }
        catch (LcmJobException e)
        {
            return Failure(e);
        }
    }

    private static ApiResult NotFound(string id) => new(404, new { error = new JobError(LcmJobException.NotFound, $"there is no job with id '{id}'") });

    /// <summary>The client's typed failure carries the HTTP status and the contract's code.</summary>
    private static ApiResult Failure(LcmJobException e) => new(e.Status, new { error = new JobError(e.ErrorCode!, e.Message) });
}
