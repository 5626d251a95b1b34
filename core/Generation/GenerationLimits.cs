namespace Lcm.Core.Generation;

/// <summary>The one place that decides the defaults and limits of a generation request.</summary>
public static class GenerationLimits
{
    public const int DefaultSize = 512;
    public const int MinImageSize = 64;
    public const int DefaultMaxImageSize = 2048;
    public const int DefaultSteps = 4;
    public const int MaxSteps = 8;
    /// <summary>The distilled LCM's guidance default and limit; the widest limit, checked before the model is known.</summary>
    public const double DefaultGuidanceScale = 8.5;
    public const double MaxGuidanceScale = 20;
    public const int MaxCount = 8;
    public const long MaxSeed = uint.MaxValue;
    public const int MaxPromptLength = 4000;
    public const int DefaultQuality = 90;
    public const int MaxLoras = 4;
    public const double MaxLoraScale = 4;

    /// <summary>
    /// Guidance defaults and limits by kind of model. Distilled: 0..20, default 8.5 (diffusers' LCM
    /// pipeline default). LCM-LoRA: 0..3, default 1, which skips the unconditional pass; diffusers'
    /// LCM-LoRA guide recommends 1 to 2, since classifier-free guidance overcooks a 4-step image quickly.
    /// </summary>
    public static GuidanceLimits Guidance(ModelKind kind) => kind switch
    {
        ModelKind.Distilled => new GuidanceLimits(DefaultGuidanceScale, MaxGuidanceScale),
        _ => new GuidanceLimits(1.0, 3.0),
    };
}

public sealed record GuidanceLimits(double Default, double Max);
