namespace Lcm.Contracts;

/// <summary>
/// The contract's bounds on a request, as schemas/job-request.schema.json states them. A model may
/// narrow them (its guidance limit, LCM_MAX_IMAGE_SIZE); the job resolver checks those.
/// </summary>
public static class RequestLimits
{
    public const int DefaultSize = 512;
    /// <summary>The longest deadline a job may name: a day, well inside a queue message's lifetime.</summary>
    public const int MaxDeadlineSeconds = 86_400;
    public const int MinImageSize = 64;
    public const int MaxImageSize = 2048;
    public const int DefaultSteps = 4;
    public const int MaxSteps = 8;
    public const double MaxGuidanceScale = 20;
    public const int MaxCount = 8;
    public const long MaxSeed = uint.MaxValue;
    public const int MaxPromptLength = 4000;
    public const int DefaultQuality = 90;
    public const double DefaultStrength = 0.8;
    public const int MaxLoras = 4;
    public const double MaxLoraScale = 4;
    /// <summary>Video-to-video: a frame keeps more of its source than a single image does, so frames stay steady.</summary>
    public const double DefaultVideoStrength = 0.5;
    public const double MaxVideoFps = 30;
    public const int DefaultVideoMaxFrames = 120;
    /// <summary>
    /// The contract's bound on video.maxFrames (a minute at 30 fps); a worker narrows it with LCM_MAX_VIDEO_FRAMES.
    /// A job of format frames lists every frame in its status, which must stay well under the status document's megabyte.
    /// </summary>
    public const int MaxVideoFrames = 1800;
}
