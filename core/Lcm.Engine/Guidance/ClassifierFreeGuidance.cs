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
    public float[] Predict(float[] samples, LatentShape shape, int timestep, PromptConditioning conditioning, RunOptions runOptions)
    {
        var prompt = conditioning.Prompt;
        if (conditioning.Negative is not { } negative)
            return unet.Predict(samples, shape, timestep, new UnetConditioning(prompt.Hidden, prompt.Pooled, conditioning.TimeIds), runOptions);

        float[]? timeIds = conditioning.TimeIds is { } ids ? [.. ids, .. ids] : null;
        float[]? pooled = prompt.Pooled is { } positive ? [.. negative.Pooled!, .. positive] : null;
        float[] output = unet.Predict([.. samples, .. samples], shape with { Batch = 2 * shape.Batch }, timestep,
            new UnetConditioning([.. negative.Hidden, .. prompt.Hidden], pooled, timeIds), runOptions);
        int size = shape.ImageLength;
        var guided = new float[samples.Length];
        for (int i = 0; i < shape.Batch; i++)
        {
            float g = (float)conditioning.GuidanceScales[i];
            var unconditional = output.AsSpan(i * size, size);
            var conditional = output.AsSpan((shape.Batch + i) * size, size);
            var result = guided.AsSpan(i * size, size);
            for (int j = 0; j < size; j++)
                result[j] = g > 1 ? unconditional[j] + g * (conditional[j] - unconditional[j]) : conditional[j];
        }
        return guided;
    }
}
