using Lcm.Engine.Models;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>The real networks <see cref="ArchitectureModelMaker"/> writes with random weights.</summary>
public enum ModelArchitecture
{
    /// <summary>Stable Diffusion 1.5: its UNet (LCM_Dreamshaper_v7's, distilled, or SD 1.5's own), CLIP ViT-L/14's text tower, AutoencoderKL.</summary>
    Sd15,

    /// <summary>SDXL: its UNet (latent-consistency/lcm-sdxl's, distilled, or SDXL base's own), CLIP-L and OpenCLIP bigG's text towers, AutoencoderKL.</summary>
    Sdxl,
}

/// <summary>Which architecture model to write, and how.</summary>
public sealed record ArchitectureOptions
{
    public ModelArchitecture Architecture { get; init; } = ModelArchitecture.Sd15;

    /// <summary>Distilled (LCM_Dreamshaper_v7, lcm-sdxl: the UNet takes <c>timestep_cond</c>) or LCM-LoRA (the base model's own UNet, without it).</summary>
    public ModelKind Kind { get; init; } = ModelKind.Distilled;

    /// <summary>Seed of every weight; the same seed writes byte-identical files.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Float16 inputs, outputs and weights, like the fp16 exports.</summary>
    public bool Float16 { get; init; }

    public VaeEncoderKind VaeEncoder { get; init; } = VaeEncoderKind.LatentSample;

    /// <summary>
    /// Every width (channels, hidden sizes, GroupNorm groups) divided by this, 1, 2, 4 or 8; the block
    /// structure, depths and head counts stay. For tests, which run the whole structure in seconds.
    /// </summary>
    internal int WidthDivisor { get; init; } = 1;

    internal int Width(int fullWidth) => fullWidth / WidthDivisor;

    /// <summary>GroupNorm's 32 groups, divided like the channels so each group keeps its share of them.</summary>
    internal int Groups => 32 / WidthDivisor;

    /// <summary>The folder name of this model in the cache: one per architecture, kind, seed and precision.</summary>
    public string CacheKey =>
        $"architecture-{Architecture.ToString().ToLowerInvariant()}-{(Kind == ModelKind.Distilled ? "distilled" : "lcm-lora")}-seed{Seed}"
        + (Float16 ? "-fp16" : "") + (VaeEncoder == VaeEncoderKind.LatentParameters ? "-latent-parameters" : "")
        + (WidthDivisor == 1 ? "" : $"-width-over-{WidthDivisor}");
}
