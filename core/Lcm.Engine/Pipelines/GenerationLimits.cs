using Lcm.Contracts;
using Lcm.Engine.Models;

namespace Lcm.Engine.Pipelines;

/// <summary>The limits that depend on the model; the contract's own are <see cref="RequestLimits"/>.</summary>
public static class GenerationLimits
{
    /// <summary>The distilled LCM's guidance default (diffusers' LCM pipeline default).</summary>
    public const double DefaultGuidanceScale = 8.5;

    /// <summary>
    /// Guidance defaults and limits by kind of model. Distilled: 0..20, default 8.5 (diffusers' LCM
    /// pipeline default). LCM-LoRA: 0..3, default 1, which skips the unconditional pass; diffusers'
    /// LCM-LoRA guide recommends 1 to 2, since classifier-free guidance overcooks a 4-step image quickly.
    /// </summary>
    public static GuidanceLimits Guidance(ModelKind kind) => kind switch
    {
        ModelKind.Distilled => new GuidanceLimits(DefaultGuidanceScale, RequestLimits.MaxGuidanceScale),
        _ => new GuidanceLimits(1.0, 3.0),
    };
}

public sealed record GuidanceLimits(double Default, double Max);
