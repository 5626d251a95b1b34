namespace Lcm.Engine.Models;

/// <summary>Which Stable Diffusion architecture a model folder holds, read from its files.</summary>
public enum ModelFamily
{
    /// <summary>SD 1.5-class: one CLIP text encoder, a UNet conditioned on its last hidden state.</summary>
    StableDiffusion,

    /// <summary>
    /// SDXL-class (SDXL, SSD-1B, LCM-SDXL): two text encoders whose penultimate hidden states are
    /// concatenated, and a UNet that also takes the pooled embedding and the size conditioning.
    /// </summary>
    StableDiffusionXL,
}
