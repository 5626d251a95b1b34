using Lcm.Engine.Models;
using Lcm.Engine.Schedulers;

namespace Lcm.Engine.Guidance;

/// <summary>A distilled LCM: the scale goes in as the <c>timestep_cond</c> embedding of (scale - 1), one UNet pass per step.</summary>
internal sealed class DistilledGuidance(Unet unet, int embeddingDimension) : IGuidance
{
    public ModelKind Kind => ModelKind.Distilled;

    public bool NeedsNegativePrompts(IEnumerable<double> guidanceScales) => false;

    public string UnusedNegativePromptWarning(double guidanceScale) => "negativePrompt is ignored: a distilled LCM has no unconditional pass";

    public IGuidedSteps Start(LatentShape shape, PromptConditioning conditioning)
    {
        float[] cond = new float[shape.Batch * embeddingDimension];
        for (int i = 0; i < shape.Batch; i++)
            GuidanceEmbedding.Write(conditioning.GuidanceScales[i], cond.AsSpan(i * embeddingDimension, embeddingDimension));
        var prompt = conditioning.Prompt;
        return new ConditionalSteps(unet.Bind(shape, new UnetConditioning(prompt.Hidden, prompt.Pooled, conditioning.TimeIds, cond)));
    }
}
