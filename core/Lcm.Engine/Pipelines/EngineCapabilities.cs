using Lcm.Contracts;
using Lcm.Engine.Models;

namespace Lcm.Engine.Pipelines;

/// <summary>What an engine can generate: the one source of the limits that validation checks a request against.</summary>
public sealed record EngineCapabilities
{
    public required ModelKind Kind { get; init; }
    /// <summary>The model folder's name, as telemetry names the model (lcm.model).</summary>
    public string ModelName { get; init; } = "";
    public required ModelFamily Family { get; init; }
    /// <summary>The width and height of a request that gives none (<see cref="GenerationLimits.DefaultSize"/>, or the UNet's fixed size).</summary>
    public required int DefaultWidth { get; init; }
    public required int DefaultHeight { get; init; }
    /// <summary>Which timesteps image-to-image runs (<see cref="GenerationLimits.ImageToImage"/>).</summary>
    public required ImageToImageRule ImageToImage { get; init; }
    /// <summary>The guidance default and limit for <see cref="Kind"/> (<see cref="GenerationLimits.Guidance"/>).</summary>
    public required GuidanceLimits Guidance { get; init; }
    /// <summary>Largest width or height (<see cref="Model.EngineOptions.MaxImageSize"/>, LCM_MAX_IMAGE_SIZE).</summary>
    public required int MaxImageSize { get; init; }
    /// <summary>The only width where the UNet graph's spatial dimensions are static; null is any multiple of 8.</summary>
    public int? FixedWidth { get; init; }
    public int? FixedHeight { get; init; }
    /// <summary>Whether the model folder has a vae_encoder, which image-to-image needs.</summary>
    public required bool SupportsImageToImage { get; init; }
    /// <summary>Whether a tiny autoencoder (vae_decoder_tiny/ or LCM_TINY_VAE_PATH) can decode <c>"decoder": "tiny"</c> requests.</summary>
    public bool SupportsTinyDecoder { get; init; }
    /// <summary>The scheduler's original_inference_steps.</summary>
    public required int OriginalSteps { get; init; }
    /// <summary>Most steps a request may ask for: <see cref="RequestLimits.MaxSteps"/> or <see cref="OriginalSteps"/>, the smaller.</summary>
    public required int MaxSteps { get; init; }
    /// <summary>The memory a run may take, against which each request's estimated peak is checked.</summary>
    public required Memory.MemoryBudget Memory { get; init; }
    /// <summary>The LoRAs merged into the engine ([] for none); for the LoRA router, those in its folder.</summary>
    public required IReadOnlyList<string> LoraNames { get; init; }
}
