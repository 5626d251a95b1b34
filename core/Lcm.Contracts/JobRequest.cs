namespace Lcm.Contracts;

/// <summary>
/// The job message of the contract (schema: schemas/job-request.schema.json). Only <see cref="Prompt"/>
/// is required; absent fields take the engine's defaults when the job is normalised.
/// </summary>
public sealed record JobRequest
{
    public const int MaxMessageBytes = 48 * 1024;

    public string? Id { get; init; }
    public required string Prompt { get; init; }
    public int? Steps { get; init; }
    public double? GuidanceScale { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public long? Seed { get; init; }
    public int? Count { get; init; }
    public string? Format { get; init; }
    public int? Quality { get; init; }
    public string? ReplyTo { get; init; }
    /// <summary>Image-to-image: a blob name in the container lcm-inputs, or the URL of such a blob in the service's account.</summary>
    public string? InitImage { get; init; }
    public double? Strength { get; init; }
    /// <summary>The unconditional text of classifier-free guidance; ignored (with a warning) by distilled LCMs.</summary>
    public string? NegativePrompt { get; init; }
    /// <summary>LoRAs by name in the worker's LoRA folder (LCM_LORA_PATH), merged in this order.</summary>
    public IReadOnlyList<JobLora>? Loras { get; init; }
    /// <summary>
    /// Who may read and cancel the job through the HTTP API and whose inputs it may use: the caller's
    /// identity (<c>aad:{object id}</c>, <c>key:{key id}</c>), set by the HTTP API from the caller's
    /// credentials, or by a service holding storage credentials on behalf of its own users.
    /// </summary>
    public string? Owner { get; init; }
    /// <summary>An https URL that receives signed events of the job (Standard Webhooks); see <see cref="WebhookEvents"/>.</summary>
    public string? Webhook { get; init; }
    /// <summary>Which events the webhook receives: started, progress, completed; null is completed only.</summary>
    public IReadOnlyList<string>? WebhookEvents { get; init; }
    /// <summary>Seconds from submit (the message's insertion) by which the job must have started, else it ends expired; one still running then is canceled.</summary>
    public int? Deadline { get; init; }
    /// <summary>full (the model's VAE, the default) or tiny (a tiny autoencoder: much cheaper, softer details, for drafts).</summary>
    public string? Decoder { get; init; }
    /// <summary>True writes a small preview of the running image after each step to lcm-images/{id}/preview.jpg (progress.preview).</summary>
    public bool? Previews { get; init; }
    /// <summary>
    /// The submitter's W3C trace context (<c>traceparent</c>, <c>tracestate</c>), so the worker's spans join
    /// its trace. Not part of what the job is: a value that does not parse starts a new trace, and
    /// two submits of one request under different traces are the same job.
    /// </summary>
    public string? Traceparent { get; init; }
    public string? Tracestate { get; init; }

    /// <summary>The request without its trace context: what identifies the job.</summary>
    public JobRequest WithoutTraceContext() => this with { Traceparent = null, Tracestate = null };
    /// <summary>Video-to-video: every frame of a video in lcm-inputs is an image-to-image run with the same seed.</summary>
    public JobVideo? Video { get; init; }

    /// <summary>The output formats as the contract spells them (jpg is jpeg).</summary>
    public static readonly IReadOnlyList<string> Formats = ["png", "jpeg", "jpg", "webp"];

    public static readonly IReadOnlyList<string> Decoders = ["full", "tiny"];

    /// <summary>
    /// Checks the request against the contract (the schema's bounds and the naming rules); throws
    /// <see cref="JobRejectedException"/> for the first problem. What a model narrows, and the init
    /// image's own size, are checked once the model is known.
    /// </summary>
    public void Validate()
    {
        if (Id is not null && !Names.IsValidId(Id))
            throw new JobRejectedException(JobErrorCodes.InvalidId, "id must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'");
        if (Format is not null && !Formats.Contains(Format))
            throw new JobRejectedException(JobErrorCodes.InvalidFormat, $"format must be png, jpeg or webp, found '{Format}'");
        if (Decoder is not null && !Decoders.Contains(Decoder))
            throw new JobRejectedException(JobErrorCodes.InvalidDecoder, $"decoder must be full or tiny, found '{Decoder}'");
        if (Quality is < 1 or > 100)
            throw new JobRejectedException(JobErrorCodes.InvalidQuality, $"quality must be in 1..100, found {Quality}");
        if (ReplyTo is not null && !Names.IsValidQueueName(ReplyTo))
            throw new JobRejectedException(JobErrorCodes.InvalidReplyTo, $"replyTo must be a storage queue name (3-63 of a-z, 0-9 and single '-'), found '{ReplyTo}'");
        if (Owner is not null && !Names.IsValidOwner(Owner))
            throw new JobRejectedException(JobErrorCodes.InvalidOwner, "owner must be 1-128 characters of A-Z, a-z, 0-9 and '_', '-', '.', ':', '@'");
        if (Deadline is < 1 or > RequestLimits.MaxDeadlineSeconds)
            throw new JobRejectedException(JobErrorCodes.InvalidDeadline, $"deadline must be in 1..{RequestLimits.MaxDeadlineSeconds} seconds, found {Deadline}");
        if (Webhooks.ShapeError(Webhook, WebhookEvents) is { } webhookError) throw new JobRejectedException(webhookError.Code, webhookError.Message);
        if (InitImage is not null && !Names.IsPlausibleInitImage(InitImage))
            throw new JobRejectedException(JobErrorCodes.InvalidInitImage,
                "initImage must be a blob name in the container lcm-inputs (like 'job-1/init') or the URL of such a blob in this service's storage account");
        var error = RequestRules.Video(Video, InitImage, Count)
            ?? RequestRules.Strength(Strength, InitImage is not null || Video is not null)
            ?? RequestRules.Prompt(Prompt)
            ?? RequestRules.NegativePrompt(NegativePrompt)
            ?? (Width is { } width ? RequestRules.Size("width", width) : null)
            ?? (Height is { } height ? RequestRules.Size("height", height) : null)
            ?? RequestRules.Steps(Steps ?? RequestLimits.DefaultSteps)
            ?? RequestRules.GuidanceScale(GuidanceScale)
            ?? RequestRules.Count(Count ?? 1)
            ?? RequestRules.Seed(Seed)
            ?? RequestRules.Loras((Loras ?? []).Select(l => (l.Name, l.Scale)).ToArray());
        if (error is not null) throw new JobRejectedException(error.Code, error.Message);
    }
}

/// <summary>
/// The video of a video-to-video job: the input (a blob in lcm-inputs, detected from its content),
/// which part of it and at what frame rate, and the output's container (or one PNG per frame).
/// </summary>
public sealed record JobVideo
{
    public string? Input { get; init; }
    /// <summary>Frames per second the source is resampled to; default the source's, at most <see cref="RequestLimits.MaxVideoFps"/>.</summary>
    public double? Fps { get; init; }
    /// <summary>Seconds into the source where the frames start (default 0).</summary>
    public double? Start { get; init; }
    /// <summary>Seconds of the source from <see cref="Start"/> (default: to its end).</summary>
    public double? Duration { get; init; }
    /// <summary>The most frames the job may have (default <see cref="RequestLimits.DefaultVideoMaxFrames"/>, or the worker's LCM_MAX_VIDEO_FRAMES where that is less).</summary>
    public int? MaxFrames { get; init; }
    public string? Format { get; init; }

    /// <summary>The output formats: H.264 MP4, VP9 WebM, animated GIF, or one PNG per frame.</summary>
    public static readonly IReadOnlyList<string> Formats = ["mp4", "webm", "gif", "frames"];
}

/// <summary>A LoRA as a request names it: a name in the worker's LoRA folder and a scale (default 1).</summary>
public sealed record JobLora(string Name, double Scale = 1.0);
