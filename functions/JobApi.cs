using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Jobs;
using Lcm.Jobs.Video;

namespace Lcm.Functions;

/// <summary>An HTTP answer without the HTTP: the status code, the JSON body and, for a new job, where it lives.</summary>
public sealed record ApiResult(int StatusCode, object Body, string? Location = null);

/// <summary>
/// The HTTP API for clients that hold no storage credentials: submit, status (with fresh image
/// URLs), cancel and input uploads. Each caller is known by <see cref="CallerIdentity"/>; with an
/// identity, a caller sees and cancels only their own jobs (others' are 404, as if absent) and their
/// jobs use only their own uploads. The function app maps routes onto it; the logic is testable without a host.
/// </summary>
public sealed class JobApi(LcmJobClient client, CallerIdentity identity, ImageInputLimits inputLimits, VideoOptions? video = null)
{
    private readonly long _maxVideoBytes = (video ?? new VideoOptions()).MaxBytes;

    /// <summary>The most a caller may ask to wait for the result (<c>Prefer: wait=N</c>).</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// 202 with the id and where to poll (<paramref name="statusUrl"/> of the id), 400 for a bad request, 409 for a
    /// taken id, 413 over the size limit. With <c>Idempotency-Key</c>, a repeat returns the original job's status
    /// (200) and another body under the same key is 422 <c>idempotency_conflict</c>. With <c>Prefer: wait=N</c>
    /// (N at most 60), the final status (200) when the job ends within N seconds.
    /// </summary>
    public async Task<ApiResult> SubmitAsync(Stream body, Func<string, string?> headers, Func<string, string> statusUrl, CancellationToken cancellationToken)
    {
        var (owner, refusal) = identity.Resolve(headers);
        if (refusal is not null) return new ApiResult(401, new { error = refusal });
        if (await BoundedRead.ReadAsync(body, JobRequest.MaxMessageBytes, cancellationToken) is not { } bytes)
            return TooLarge($"the request body is over {JobRequest.MaxMessageBytes} bytes; at most {JobRequest.MaxMessageBytes} are accepted");
        var message = JobMessage.FromJson(bytes, Guid.NewGuid().ToString("N"));
        if (message.Error is { } error) return new ApiResult(400, new { error });
        // The body's own id, or null: an idempotency key decides the id itself.
        var request = message.Request!;
        if (owner is not null)
        {
            if (request.Owner is not null && request.Owner != owner)
                return BadRequest(JobErrorCodes.InvalidOwner, $"owner is set from your credentials ('{owner}'); leave it out");
            request = request with { Owner = owner };
            if (request.InitImage is { } init && !init.StartsWith(Names.InputFolder(owner) + "/", StringComparison.Ordinal))
                return BadRequest(JobErrorCodes.InvalidInitImage, $"initImage must be one of your uploads (POST /api/inputs returns its name); '{init}' is not");
            if (request.Video?.Input is { } video && !video.StartsWith(Names.InputFolder(owner) + "/", StringComparison.Ordinal))
                return BadRequest(JobErrorCodes.InvalidVideo, $"video.input must be one of your uploads in lcm-inputs/{Names.InputFolder(owner)}/; '{video}' is not");
        }
        try
        {
            var (status, replayed) = headers("Idempotency-Key") is { } key
                ? await client.SubmitIdempotentAsync(request, key, cancellationToken)
                : new JobSubmission(await client.SubmitAsync(request with { Id = request.Id ?? message.JobId }, cancellationToken), Replayed: false);
            string url = statusUrl(status.Id);
            if (PreferredWait(headers("Prefer")) is { } wait && !status.IsTerminal)
            {
                try
                {
                    status = await client.WaitForCompletionAsync(status.Id, wait, cancellationToken: cancellationToken);
                }
                catch (TimeoutException)
                {
                }
            }
            return status.IsTerminal || replayed ? new ApiResult(200, status, url)
                : new ApiResult(202, new { id = status.Id, status = status.Status, statusUrl = url }, url);
        }
        catch (LcmJobException e)
        {
            return Failure(e);
        }
    }

    public async Task<ApiResult> GetAsync(string id, Func<string, string?> headers, CancellationToken cancellationToken)
    {
        var (owner, refusal) = identity.Resolve(headers);
        if (refusal is not null) return new ApiResult(401, new { error = refusal });
        if (!Names.IsValidId(id)) return BadRequest(JobErrorCodes.InvalidId, $"'{id}' is not a job id");
        var status = await client.GetStatusAsync(id, cancellationToken);
        return status is not null && Visible(status, owner) ? new ApiResult(200, status) : NotFound(id);
    }

    public async Task<ApiResult> CancelAsync(string id, Func<string, string?> headers, CancellationToken cancellationToken)
    {
        var (owner, refusal) = identity.Resolve(headers);
        if (refusal is not null) return new ApiResult(401, new { error = refusal });
        if (!Names.IsValidId(id)) return BadRequest(JobErrorCodes.InvalidId, $"'{id}' is not a job id");
        try
        {
            return new ApiResult(200, await client.CancelAsync(id, owner, cancellationToken));
        }
        catch (LcmJobException e)
        {
            return Failure(e);
        }
    }

    /// <summary>
    /// 201 with the blob name, stored under the caller's folder: for <c>initImage</c> a PNG, JPEG or WebP within
    /// LCM_MAX_INPUT_BYTES and LCM_MAX_INPUT_PIXELS (<c>{"initImage": name}</c>); for a video job an MP4, MOV,
    /// WebM or animated GIF or WebP within LCM_MAX_VIDEO_BYTES (<c>{"video": {"input": name}}</c>), told apart by content.
    /// </summary>
    public async Task<ApiResult> UploadInputAsync(Stream body, Func<string, string?> headers, CancellationToken cancellationToken)
    {
        var (owner, refusal) = identity.Resolve(headers);
        if (refusal is not null) return new ApiResult(401, new { error = refusal });
        long limit = Math.Max(inputLimits.MaxBytes, _maxVideoBytes);
        if (await BoundedRead.ReadAsync(body, limit, cancellationToken) is not { } bytes)
            return TooLarge($"the upload is over {limit} bytes (LCM_MAX_VIDEO_BYTES, LCM_MAX_INPUT_BYTES); send a smaller one");
        if (VideoDecoder.IsVideo(bytes))
        {
            if (bytes.Length > _maxVideoBytes) return TooLarge($"the video is over {_maxVideoBytes} bytes (LCM_MAX_VIDEO_BYTES); send a shorter or smaller one");
            // Decoded and checked against the video limits by the job that names it, before any work.
            return new ApiResult(201, new { video = new { input = await client.UploadInputAsync(new MemoryStream(bytes), owner, cancellationToken) } });
        }
        if (bytes.Length > inputLimits.MaxBytes)
            return TooLarge($"the image is over {inputLimits.MaxBytes} bytes (LCM_MAX_INPUT_BYTES); send a smaller one");
        try
        {
            ImageInput.Identify(bytes, inputLimits);
        }
        catch (InvalidRequestException e)
        {
            return BadRequest(e.Code, e.Message);
        }
        string name = await client.UploadInputAsync(new MemoryStream(bytes), owner, cancellationToken);
        return new ApiResult(201, new { initImage = name });
    }

    /// <summary><c>wait=N</c> among a Prefer header's preferences (RFC 7240), at most <see cref="MaxWait"/>.</summary>
    private static TimeSpan? PreferredWait(string? prefer)
    {
        foreach (string preference in (prefer ?? "").Split(',', StringSplitOptions.TrimEntries))
            if (preference.StartsWith("wait=", StringComparison.OrdinalIgnoreCase) && int.TryParse(preference[5..], out int seconds) && seconds > 0)
                return TimeSpan.FromSeconds(Math.Min(seconds, MaxWait.TotalSeconds));
        return null;
    }

    private static bool Visible(JobStatus status, string? owner) => owner is null || status.Request?.Owner == owner;

    private static ApiResult BadRequest(string code, string message) => new(400, new { error = new JobError(code, message) });

    private static ApiResult TooLarge(string message) => new(413, new { error = new JobError(JobErrorCodes.MessageTooLarge, message) });

    private static ApiResult NotFound(string id) => new(404, new { error = new JobError(LcmJobException.NotFound, $"there is no job with id '{id}'") });

    /// <summary>The client's typed failure carries the HTTP status and the contract's code.</summary>
    private static ApiResult Failure(LcmJobException e) => new(e.Status, new { error = new JobError(e.ErrorCode!, e.Message) });
}
