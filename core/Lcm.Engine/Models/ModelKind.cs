using Lcm.Engine.Pipelines;

namespace Lcm.Engine.Models;

/// <summary>What kind of UNet a model has, which decides how guidance works and its limits (<see cref="GenerationLimits.Guidance"/>).</summary>
public enum ModelKind
{
    /// <summary>A distilled LCM: the guidance scale goes in as the <c>timestep_cond</c> embedding, one pass per step.</summary>
    Distilled,

    /// <summary>
    /// A Stable Diffusion (1.5 or SDXL-class) UNet made an LCM by a merged LCM-LoRA: no guidance embedding;
    /// guidance above 1 is classifier-free, an unconditional and a conditional pass per step.
    /// </summary>
    LcmLora,
}
