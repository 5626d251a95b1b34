namespace Lcm.Core.Generation;

/// <summary>The one place that decides the defaults and limits of a generation request.</summary>
public static class GenerationLimits
{
    public const int DefaultSize = 512;
    public const int MinImageSize = 64;
    public const int DefaultMaxImageSize = 2048;
    public const int DefaultSteps = 4;
    public const int MaxSteps = 8;
    public const double DefaultGuidanceScale = 8.5;
    public const double MaxGuidanceScale = 20;
    public const int MaxCount = 8;
    public const long MaxSeed = uint.MaxValue;
    public const int MaxPromptLength = 4000;
    public const int DefaultQuality = 90;
}
