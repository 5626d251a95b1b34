using System.Diagnostics;
using System.Text.Json;
using Azure;
using Lcm.Contracts;

namespace Lcm.Client;

/// <summary>
/// Submits jobs, reads their status (with fresh read-SAS image URLs where this client can sign
/// them), waits for completion and cancels. Needs storage credentials; clients without them use
/// the function app's HTTP API.
/// </summary>
public class LcmJobClient
{
    private readonly StorageAccount _account;
    private readonly LcmJobClientOptions _options;
    private readonly StatusStore _statuses;
    private readonly JobQueues _queues;
    private readonly BlobUrls _urls;
    private bool _created;
    // A job's status changes a few times in its life; a cancel that loses more races than this is retried by the caller.
    private const int MaxCancelRaces = 20;

    /// <summary>For mocking.</summary>
    protected LcmJobClient()
    {
        _account = null!;
        _options = new LcmJobClientOptions();
        _statuses = null!;
        _queues = null!;
        _urls = null!;
    }

    public LcmJobClient(string connectionString, LcmJobClientOptions? options = null)
        : this(StorageAccount.FromConnectionString(connectionString), options)
    {
    }

    public LcmJobClient(StorageAccount account, LcmJobClientOptions? options = null)
    {
        _account = account;
        _options = options ?? new LcmJobClientOptions();
        _statuses = new StatusStore(account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer));
        _queues = new JobQueues(account, _options.Names);
        _urls = new BlobUrls(account.Blobs, _options.SasLifetime);
    }

    /// <summary>
    /// Validates the request, records it as <c>queued</c>, then enqueues it. A request without an id
    /// gets a new one. With <paramref name="initImage"/> (image-to-image), the picture is uploaded to
    /// <c>lcm-inputs/{id}/init</c> first and the message only names it, so queue messages stay small.
    /// Throws <see cref="LcmJobException"/>: status 400 with the contract's code for a request the service
    /// would refuse, 409 <c>job_exists</c> when a job with that id exists already.
    /// </summary>
    public virtual Task<JobStatus> SubmitAsync(JobRequest request, CancellationToken cancellationToken = default) =>
        SubmitAsync(request, null, cancellationToken);

    /// <inheritdoc cref="SubmitAsync(JobRequest, CancellationToken)"/>
    public virtual Task<JobStatus> SubmitAsync(JobRequest request, Stream? initImage, CancellationToken cancellationToken = default) =>
        SubmitCoreAsync(request, initImage, requestHash: null, cancellationToken);

    /// <summary>
    /// Submits at most once per <paramref name="idempotencyKey"/> (1-255 printable ASCII characters) of the
    /// request's owner: the job's id is derived from the two, so a repeated call with the same request
    /// returns the original job (<see cref="JobSubmission.Replayed"/>), whatever its state, and one with
    /// another request throws <see cref="LcmJobException"/> 422 <c>idempotency_conflict</c>. A key lasts
    /// as long as its job's status (the retention rule). The request must not have an id of its own.
    /// </summary>
    public virtual async Task<JobSubmission> SubmitIdempotentAsync(JobRequest request, string idempotencyKey, CancellationToken cancellationToken = default)
    {
        if (idempotencyKey.Length is 0 or > 255 || idempotencyKey.Any(c => c is < ' ' or > '~'))
            throw new LcmJobException(400, LcmJobException.InvalidIdempotencyKey, "an idempotency key is 1-255 printable ASCII characters");
        if (request.Id is not null)
            throw new LcmJobException(400, JobErrorCodes.InvalidId, "give a job either an id or an idempotency key, not both: the key decides the id");
        string id = "key-" + Names.Sha256Hex($"{request.Owner}\n{idempotencyKey}")[..40];
        string requestHash = Names.Sha256Hex(JsonSerializer.Serialize(request.WithoutTraceContext(), JobJson.Options));
        try
        {
            return new JobSubmission(await SubmitCoreAsync(request with { Id = id }, null, requestHash, cancellationToken), Replayed: false);
        }
        catch (LcmJobException e) when (e.ErrorCode == LcmJobException.JobExists)
        {
            var original = await GetStatusAsync(id, cancellationToken);
            if (original is null) throw;
            return original.RequestHash == requestHash ? new JobSubmission(original, Replayed: true)
                : throw new LcmJobException(422, LcmJobException.IdempotencyConflict,
                    $"idempotency key '{idempotencyKey}' was used for another request (job '{id}'); use a new key for a new request");
        }
    }

    /// <summary>
    /// Video-to-video: uploads the video to <c>lcm-inputs/{id}/video</c> first (claim-check, as for init images)
    /// and submits the request naming it; <see cref="JobRequest.Video"/> gives the rest (frame rate, window, format).
    /// </summary>
    public virtual Task<JobStatus> SubmitVideoAsync(JobRequest request, Stream video, CancellationToken cancellationToken = default) =>
        SubmitCoreAsync(request with { Video = request.Video ?? new JobVideo() }, video, requestHash: null, cancellationToken);

    private async Task<JobStatus> SubmitCoreAsync(JobRequest request, Stream? input, string? requestHash, CancellationToken cancellationToken)
    {
        request = request with { Id = request.Id ?? Guid.NewGuid().ToString("N") };
        using var span = LcmTelemetry.Source.StartActivity("lcm.submit", ActivityKind.Producer);
        span?.SetTag(LcmTelemetry.JobId, request.Id);
        // The worker's job span continues the submitter's trace, through this span where one is recorded.
        if (request.Traceparent is null)
        {
            var (traceparent, tracestate) = LcmTelemetry.CurrentContext();
            request = request with { Traceparent = traceparent, Tracestate = tracestate };
        }
        if (input is not null && request.Video is { } video)
        {
            if (video.Input is not null) throw new ArgumentException("give the video either as a stream or as request.Video.Input, not both", nameof(input));
            request = request with { Video = video with { Input = Names.VideoInputBlob(request.Id!) } };
        }
        else if (input is not null)
        {
            if (request.InitImage is not null) throw new ArgumentException("give the init image either as a stream or as request.InitImage, not both", nameof(input));
            request = request with { InitImage = Names.InitImageBlob(request.Id!) };
        }
        try
        {
            request.Validate();
        }
        catch (JobRejectedException e)
        {
            throw new LcmJobException(400, e.Code, e.Message);
        }
        if (_options.Names.ReplyToError(request.ReplyTo) is { } replyTo) throw new LcmJobException(400, replyTo.Code, replyTo.Message);
        if (request.Webhook is { } webhook && await _options.Webhooks.CheckAsync(webhook, cancellationToken) is { } refused)
            throw new LcmJobException(400, refused.Code, refused.Message);
        await EnsureCreatedAsync(cancellationToken);
        if (input is not null)
            await _account.Blobs.GetBlobContainerClient(StorageNames.InputsContainer).GetBlobClient(request.Video?.Input ?? request.InitImage)
                .UploadAsync(input, overwrite: true, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var queued = new JobStatus { Id = request.Id!, Status = JobState.Queued, CreatedAt = now, ExpiresAt = now + _options.Names.Retention, Request = request, RequestHash = requestHash };
        if (await _statuses.TryCreateAsync(queued, cancellationToken) is null)
            throw new LcmJobException(409, LcmJobException.JobExists, $"a job with id '{request.Id}' exists already; use another id");
        await _queues.SendJobAsync(request, cancellationToken);
        return queued;
    }

    /// <summary>
    /// Uploads a picture for later image-to-image jobs of <paramref name="owner"/> to
    /// <c>lcm-inputs/{Names.InputFolder(owner)}/{new id}</c> and returns that name, the value for
    /// <see cref="JobRequest.InitImage"/>. The HTTP API lets an owner's jobs use only the owner's uploads.
    /// </summary>
    public virtual async Task<string> UploadInputAsync(Stream image, string? owner = null, CancellationToken cancellationToken = default)
    {
        if (owner is not null && !Names.IsValidOwner(owner)) throw new LcmJobException(400, JobErrorCodes.InvalidOwner, $"'{owner}' is not an owner id");
        await EnsureCreatedAsync(cancellationToken);
        string name = $"{Names.InputFolder(owner)}/{Guid.NewGuid():N}";
        await _account.Blobs.GetBlobContainerClient(StorageNames.InputsContainer).GetBlobClient(name).UploadAsync(image, overwrite: false, cancellationToken);
        return name;
    }

    /// <summary>The job's status with image URLs that carry a fresh read SAS; null when there is no such job.</summary>
    public virtual async Task<JobStatus?> GetStatusAsync(string id, CancellationToken cancellationToken = default)
    {
        if (!Names.IsValidId(id)) throw new ArgumentException($"'{id}' is not a job id (1-64 of A-Z, a-z, 0-9, '_' and '-')", nameof(id));
        if (await _statuses.GetAsync(id, cancellationToken) is not { } stored) return null;
        return await WithReadUrlsAsync(stored.Status, cancellationToken);
    }

    private async Task<JobStatus> WithReadUrlsAsync(JobStatus status, CancellationToken cancellationToken)
    {
        var images = new List<JobImage>();
        foreach (var image in status.Images)
            images.Add(image with { Url = await _urls.ReadUrlAsync(StorageNames.ImagesContainer, image.Blob, cancellationToken) });
        if (status.Progress?.Preview is { } preview)
            status = status with { Progress = status.Progress with { Preview = preview with { Url = await _urls.ReadUrlAsync(StorageNames.ImagesContainer, preview.Blob, cancellationToken) } } };
        return status with { Images = images };
    }

    /// <summary>
    /// Polls until the job succeeds, fails or is canceled; throws <see cref="TimeoutException"/> after
    /// <paramref name="timeout"/> and <see cref="LcmJobException"/> 404 when there is no such job.
    /// </summary>
    public virtual async Task<JobStatus> WaitForCompletionAsync(string id, TimeSpan timeout, IProgress<JobStatus>? progress = null,
        CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var status = await GetStatusAsync(id, deadline.Token)
                    ?? throw LcmJobException.NoSuchJob(id);
                progress?.Report(status);
                if (status.IsTerminal) return status;
                await Task.Delay(_options.PollInterval, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"job '{id}' did not finish within {timeout}");
        }
    }

    /// <summary>
    /// Cancels a queued or running job; a finished job keeps its status. Returns the status after the call;
    /// throws <see cref="LcmJobException"/> 404 <c>not_found</c> when there is no such job.
    /// </summary>
    public virtual Task<JobStatus> CancelAsync(string id, CancellationToken cancellationToken = default) => CancelAsync(id, owner: null, cancellationToken);

    /// <summary>As <see cref="CancelAsync(string, CancellationToken)"/>; with <paramref name="owner"/>, another owner's job is 404 as if absent (the HTTP API).</summary>
    internal async Task<JobStatus> CancelAsync(string id, string? owner, CancellationToken cancellationToken)
    {
        var update = await _statuses.UpdateAsync(id, stored => ValueTask.FromResult(stored switch
        {
            null => throw LcmJobException.NoSuchJob(id),
            _ when owner is not null && stored.Status.Request?.Owner != owner => throw LcmJobException.NoSuchJob(id),
            { Status.IsTerminal: true } => null,
            _ => stored.Status with
            {
                Status = JobState.Canceled,
                CompletedAt = DateTimeOffset.UtcNow,
                Error = new JobError("canceled", "the job was canceled by a client"),
            },
        }), MaxCancelRaces, cancellationToken);
        if (update.Written is { } written) return written.Status;
        // A finished job is returned as GetStatusAsync returns it: stored URLs need the caller's SAS to be of use.
        if (update.Current is { Status.IsTerminal: true } finished) return await WithReadUrlsAsync(finished.Status, cancellationToken);
        throw new LcmJobException(409, "status_busy", $"the status of job '{id}' kept changing; try the cancel again");
    }

    /// <summary>Downloads one image of a finished job with this client's credentials.</summary>
    public virtual async Task DownloadImageAsync(JobImage image, Stream destination, CancellationToken cancellationToken = default) =>
        await _account.Blobs.GetBlobContainerClient(StorageNames.ImagesContainer).GetBlobClient(image.Blob).DownloadToAsync(destination, cancellationToken);

    private async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (_created) return;
        try
        {
            await StorageSetup.EnsureCreatedAsync(_account, _options.Names, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 403)
        {
            // A client may hold rights to send and write status but not to create; the worker creates them.
        }
        _created = true;
    }
}

/// <summary>A submitted job, and whether it was submitted before under the same idempotency key.</summary>
public sealed record JobSubmission(JobStatus Status, bool Replayed);
