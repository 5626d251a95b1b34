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
}
