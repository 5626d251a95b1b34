using Lcm.Engine.Loaders.Lora;

namespace Lcm.SyntheticModels;

/// <summary>Shape of the tiny LCM that <see cref="TestModelMaker"/> writes.</summary>
public sealed record TestModelOptions
{
    /// <summary>Float16 inputs, outputs and weights, like the fp16 exports.</summary>
    public bool Float16 { get; init; }

    /// <summary>Approximate UNet weight bytes in MiB (1 or more); above 32 MiB they go to unet/model.onnx_data.</summary>
    public int UnetMegabytes { get; init; } = 1;

    /// <summary>Seed of every weight; the same seed writes byte-identical files.</summary>
    public int Seed { get; init; } = 1;

    public VaeEncoderKind VaeEncoder { get; init; } = VaeEncoderKind.LatentSample;

    /// <summary>Batch dimension fixed to 1 in every graph instead of the symbolic "batch".</summary>
    public bool FixedBatch { get; init; }

    /// <summary>
    /// A Stable Diffusion 1.5-style model for LoRA merging: a three-input UNet (no <c>timestep_cond</c>)
    /// and graphs whose node and weight names follow real exports (<see cref="Sd15StyleGraphs"/>).
    /// <see cref="UnetMegabytes"/> does not apply.
    /// </summary>
    public bool Sd15Style { get; init; }

    /// <summary>
    /// For the SD 1.5 style: deltas ([out, in * k * k], float32) added to these modules' weights before
    /// they are written, giving the model a LoRA merge should produce.
    /// </summary>
    public IReadOnlyDictionary<(LoraComponent Component, string Module), float[]>? MergedDeltas { get; init; }
}

/// <summary>The two output conventions real VAE encoder exports use.</summary>
public enum VaeEncoderKind
{
    /// <summary><c>latent_sample</c> [batch, 4, h, w]: an already sampled latent.</summary>
    LatentSample,

    /// <summary><c>latent_parameters</c> [batch, 8, h, w]: mean in channels 0-3, log-variance in 4-7.</summary>
    LatentParameters,
}
