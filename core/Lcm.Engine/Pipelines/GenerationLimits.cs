using Lcm.Contracts;
using Lcm.Engine.Models;

namespace Lcm.Engine.Pipelines;

/// <summary>The limits that depend on the model; the contract's own are <see cref="RequestLimits"/>.</summary>
public static class GenerationLimits
{
    /// <summary>The distilled SD 1.5 LCM's guidance default (diffusers' LCM pipeline default).</summary>
    public const double DefaultGuidanceScale = 8.5;

    /// <summary>The distilled LCM-SDXL's guidance default (its model card's).</summary>
    public const double DefaultSdxlGuidanceScale = 8.0;

    /// <summary>SDXL's size when unet/config.json does not give sample_size.</summary>
    public const int DefaultSdxlSize = 1024;

    /// <summary>
    /// Guidance defaults and limits by kind of model. Distilled: 0..20, default 8.5 (diffusers' LCM
    /// pipeline default; 8.0 for LCM-SDXL). LCM-LoRA: 0..3, default 1, which skips the unconditional
    /// pass; diffusers' LCM-LoRA guide recommends 1 to 2, since classifier-free guidance overcooks a
    /// 4-step image quickly.
    /// </summary>
    public static GuidanceLimits Guidance(ModelFamily family, ModelKind kind) => kind switch
    {
        ModelKind.Distilled => new GuidanceLimits(family == ModelFamily.StableDiffusionXL ? DefaultSdxlGuidanceScale : DefaultGuidanceScale,
            RequestLimits.MaxGuidanceScale),
        _ => new GuidanceLimits(1.0, 3.0),
    };

    /// <summary>
    /// The width and height a request without one gets: SD 1.5's 512 (the contract's default), and
    /// for SDXL-class models the UNet's sample_size x 8 (1024 for SDXL), as diffusers' pipelines default.
    /// </summary>
    public static int DefaultSize(ModelFamily family, int? unetSampleSize) =>
        family == ModelFamily.StableDiffusionXL ? unetSampleSize * 8 ?? DefaultSdxlSize : RequestLimits.DefaultSize;

    /// <summary>Distilled SD 1.5 LCMs keep the LCM img2img pipeline's rule; the rest go through diffusers' generic img2img pipelines.</summary>
    public static ImageToImageRule ImageToImage(ModelFamily family, ModelKind kind) =>
        family == ModelFamily.StableDiffusion && kind == ModelKind.Distilled ? ImageToImageRule.LcmStrength : ImageToImageRule.LastOfSchedule;
}

public sealed record GuidanceLimits(double Default, double Max);
