namespace Lcm.Contracts;

/// <summary>An error a job ends with: a stable code and a message a person can act on.</summary>
public sealed record JobError(string Code, string Message);

/// <summary>A job that can never succeed as sent: it fails at once and is not retried.</summary>
public sealed class JobRejectedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>Every stable error code a job or a request can end with, in one place.</summary>
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
    public const string InvalidOwner = "invalid_owner";
    public const string InvalidDeadline = "invalid_deadline";
    /// <summary>The job did not start, or did not finish, by its deadline.</summary>
    public const string DeadlineExceeded = "deadline_exceeded";
    /// <summary>A webhook URL the service will not call: not https, a private or metadata address, not on the allow-list, or no signing secret.</summary>
    public const string InvalidWebhook = "invalid_webhook";
    public const string MessageTooLarge = "message_too_large";
    public const string RetriesExhausted = "retries_exhausted";
    public const string InvalidInitImage = "invalid_init_image";
    public const string InitImageNotFound = "init_image_not_found";
    public const string RequestNotFound = "request_not_found";
    public const string UnsupportedEvent = "unsupported_event";
    /// <summary>A message names the id of a job it is not the request of; it goes to the poison queue, the job is untouched.</summary>
    public const string IdConflict = "id_conflict";
    public const string InvalidLoras = "invalid_loras";
    public const string InvalidPrompt = "invalid_prompt";
    public const string ImageTooLarge = "image_too_large";
    public const string UnsupportedImage = "unsupported_image";
    public const string InvalidStrength = "invalid_strength";
    public const string UnknownLora = "unknown_lora";
    public const string LoraMismatch = "lora_mismatch";
    public const string InvalidWidth = "invalid_width";
    public const string InvalidSteps = "invalid_steps";
    public const string InvalidSeed = "invalid_seed";
    public const string InvalidNegativePrompt = "invalid_negative_prompt";
    public const string InvalidLora = "invalid_lora";
    public const string InvalidHeight = "invalid_height";
    public const string InvalidGuidanceScale = "invalid_guidance_scale";
    public const string InvalidCount = "invalid_count";
    public const string ImageToImageUnsupported = "image_to_image_unsupported";
    public const string InvalidDecoder = "invalid_decoder";
    public const string TinyDecoderUnavailable = "tiny_decoder_unavailable";
    public const string ImageCorrupt = "image_corrupt";
    /// <summary>The request's estimated peak memory is over the worker's budget (LCM_MEMORY_BUDGET_MB); the message gives the largest size that fits.</summary>
    public const string RequestTooLarge = "request_too_large";
    /// <summary>A run ran out of memory although the estimate admitted it; not retried, since it would again.</summary>
    public const string OutOfMemory = "out_of_memory";
    /// <summary>The VAE decoder gave NaN or infinite values (SDXL's VAE in float16): no image is written.</summary>
    public const string VaeOverflow = "vae_overflow";
    /// <summary>A video job's fields, or its input: not a video this service reads (MP4, WebM, MOV, animated GIF or WebP), or one without a video stream.</summary>
    public const string InvalidVideo = "invalid_video";
    public const string VideoNotFound = "video_not_found";
    /// <summary>The input file is over LCM_MAX_VIDEO_BYTES, or the part of it to process over LCM_MAX_VIDEO_SECONDS.</summary>
    public const string VideoTooLong = "video_too_long";
    /// <summary>More frames than video.maxFrames (or LCM_MAX_VIDEO_FRAMES) at the job's frame rate.</summary>
    public const string VideoTooManyFrames = "video_too_many_frames";
    /// <summary>The video's frames are larger than LCM_MAX_INPUT_PIXELS.</summary>
    public const string VideoFrameTooLarge = "video_frame_too_large";
    /// <summary>The worker has no ffmpeg (PATH or LCM_FFMPEG), which MP4, WebM and MOV need; or it failed or ran over its limits.</summary>
    public const string VideoToolMissing = "video_tool_missing";
    public const string VideoToolFailed = "video_tool_failed";
}
