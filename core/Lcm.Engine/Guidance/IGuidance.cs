using Lcm.Engine.Models;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Guidance;

/// <summary>
/// How the guidance scale steers one kind of UNet, chosen once when the engine loads: whether the
/// negative prompts are encoded, how a step's UNet batch is built and how its predictions combine.
/// </summary>
internal interface IGuidance
{
    ModelKind Kind { get; }

    /// <summary>Whether a batch at these scales needs negative_prompt_embeds.</summary>
    bool NeedsNegativePrompts(IEnumerable<double> guidanceScales);

    /// <summary>The warning for a request whose negative prompt goes unused at its scale.</summary>
    string UnusedNegativePromptWarning(double guidanceScale);

    /// <summary>The guided noise prediction for each image of the batch at one timestep.</summary>
    float[] Predict(float[] samples, LatentShape shape, int timestep, PromptConditioning conditioning, RunOptions runOptions);

    /// <summary>A UNet with <c>timestep_cond</c> is a distilled LCM; one without is an SD 1.5 or SDXL-class UNet with LCM-LoRA merged.</summary>
    static IGuidance For(Unet unet) => unet.TimeCondDim is int dimension ? new DistilledGuidance(unet, dimension) : new ClassifierFreeGuidance(unet);
}
