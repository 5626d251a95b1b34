using Lcm.Engine.Models;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Guidance;

/// <summary>
/// A UNet without a guidance embedding (SD 1.5 or SDXL-class, with LCM-LoRA merged), as in diffusers:
/// above scale 1 an unconditional and a conditional pass in one batch, [negative, positive],
/// eps_u + g * (eps_c - eps_u); at scale 1 or below the conditional pass alone.
/// </summary>
internal sealed class ClassifierFreeGuidance(Unet unet) : IGuidance
{
    public ModelKind Kind => ModelKind.LcmLora;

    public bool NeedsNegativePrompts(IEnumerable<double> guidanceScales) => guidanceScales.Any(g => g > 1);

    public string UnusedNegativePromptWarning(double guidanceScale) =>
        $"negativePrompt is ignored at guidanceScale {guidanceScale} (classifier-free guidance runs only above 1)";

    /// <summary>Given negative_prompt_embeds, every image takes both passes; one at scale 1 or below keeps the conditional prediction.</summary>
    public IGuidedSteps Start(LatentShape shape, PromptConditioning conditioning)
    {
        var prompt = conditioning.Prompt;
        if (conditioning.Negative is not { } negative)
            return new ConditionalSteps(unet.Bind(shape, new UnetConditioning(prompt.Hidden, prompt.Pooled, conditioning.TimeIds)));

        float[]? timeIds = conditioning.TimeIds is { } ids ? [.. ids, .. ids] : null;
        float[]? pooled = prompt.Pooled is { } positive ? [.. negative.Pooled!, .. positive] : null;
        var both = unet.Bind(shape with { Batch = 2 * shape.Batch }, new UnetConditioning([.. negative.Hidden, .. prompt.Hidden], pooled, timeIds));
        return new BothPasses(both, shape, conditioning.GuidanceScales);
    }

    /// <summary>The unconditional and the conditional pass of every image in one UNet batch, combined by each image's scale.</summary>
    private sealed class BothPasses(UnetSteps unet, LatentShape shape, double[] guidanceScales) : IGuidedSteps
    {
        private readonly float[] _samples = new float[2 * shape.Length];
        private readonly float[] _guided = new float[shape.Length];

        public float[] Predict(float[] samples, int timestep, RunOptions runOptions)
        {
            samples.CopyTo(_samples, 0);
            samples.CopyTo(_samples, samples.Length);
            float[] output = unet.Predict(_samples, timestep, runOptions);
            int size = shape.ImageLength;
            for (int i = 0; i < shape.Batch; i++)
            {
                float g = (float)guidanceScales[i];
                var unconditional = output.AsSpan(i * size, size);
                var conditional = output.AsSpan((shape.Batch + i) * size, size);
                var result = _guided.AsSpan(i * size, size);
                for (int j = 0; j < size; j++)
                    result[j] = g > 1 ? unconditional[j] + g * (conditional[j] - unconditional[j]) : conditional[j];
            }
            return _guided;
        }

        public void Dispose() => unet.Dispose();
    }
}
