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

    /// <summary>The guided UNet for a batch of latents through its steps, its conditioning bound once.</summary>
    IGuidedSteps Start(LatentShape shape, PromptConditioning conditioning);

    /// <summary>A UNet with <c>timestep_cond</c> is a distilled LCM; one without is an SD 1.5 or SDXL-class UNet with LCM-LoRA merged.</summary>
    static IGuidance For(Unet unet) => unet.TimeCondDim is int dimension ? new DistilledGuidance(unet, dimension) : new ClassifierFreeGuidance(unet);
}

/// <summary>One batch's guided noise predictions, step after step.</summary>
internal interface IGuidedSteps : IDisposable
{
    /// <summary>The guided prediction for each image of the batch at one timestep, in an array the next step overwrites.</summary>
    float[] Predict(float[] samples, int timestep, RunOptions runOptions);
}

/// <summary>One UNet pass per image, its prediction taken as it is.</summary>
internal sealed class ConditionalSteps(UnetSteps unet) : IGuidedSteps
{
    public float[] Predict(float[] samples, int timestep, RunOptions runOptions) => unet.Predict(samples, timestep, runOptions);

    public void Dispose() => unet.Dispose();
}
