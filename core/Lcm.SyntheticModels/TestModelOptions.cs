using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;

namespace Lcm.SyntheticModels;

/// <summary>Shape of the tiny LCM that <see cref="TestModelMaker"/> writes.</summary>
public sealed record TestModelOptions
{
    /// <summary>Float16 inputs, outputs and weights, like the fp16 exports.</summary>
    public bool Float16 { get; init; }

    /// <summary>
    /// Approximate UNet weight bytes in MiB (1 or more); above 32 MiB they go to unet/model.onnx_data. For SDXL
    /// the size comes on top of the UNet's own small modules, and only above 1.
    /// </summary>
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
    /// SDXL-class: a second tokenizer (padding with "!") and text encoder, hidden_states.0..N outputs,
    /// and a UNet that takes text_embeds and time_ids (<see cref="SdxlGraphs"/>).
    /// </summary>
    public ModelFamily Family { get; init; } = ModelFamily.StableDiffusion;

    /// <summary>
    /// For SDXL: distilled (LCM-SDXL, with <c>timestep_cond</c>) or LCM-LoRA (SDXL's own UNet, with
    /// SDXL's Euler scheduler config). SD 1.5 models are distilled unless <see cref="Sd15Style"/>.
    /// </summary>
    public ModelKind Kind { get; init; } = ModelKind.Distilled;

    /// <summary>
    /// For SDXL: an SSD-1B-style UNet, with fewer transformer blocks than SDXL's (one in the attention
    /// where SDXL has two), so LoRAs for SDXL do not fit it.
    /// </summary>
    public bool Ssd1bStyle { get; init; }

    /// <summary>For SDXL: which optimum's input types the graphs have.</summary>
    public ExportEra Era { get; init; } = ExportEra.Current;

    /// <summary>With <see cref="Float16"/>: the VAE graphs stay float32, as in exports that keep the SDXL VAE out of float16.</summary>
    public bool Float32Vae { get; init; }

    /// <summary>A float16 VAE decoder whose values overflow float16 (SDXL's VAE does), so it returns infinities.</summary>
    public bool OverflowingVae { get; init; }

    /// <summary>For SDXL: model_index.json's force_zeros_for_empty_prompt.</summary>
    public bool ForceZerosForEmptyPrompt { get; init; } = true;

    /// <summary>A tiny autoencoder's decoder in vae_decoder_tiny/ and encoder in vae_encoder_tiny/, as a TAESD export placed beside the model gives.</summary>
    public bool TinyVae { get; init; } = true;

    public bool VaeFloat16 => Float16 && !Float32Vae;

    /// <summary>
    /// For the SD 1.5 style and SDXL: deltas ([out, in * k * k], float32) added to these modules' weights before
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

/// <summary>How optimum's SDXL exports type their inputs, older against newer.</summary>
public enum ExportEra
{
    /// <summary>Older optimum: <c>input_ids</c> int32, <c>timestep</c> int64 of shape [1].</summary>
    Legacy,

    /// <summary>optimum 1.24 and later: <c>input_ids</c> int64, <c>timestep</c> a float32 scalar of rank 0.</summary>
    Current,
}
