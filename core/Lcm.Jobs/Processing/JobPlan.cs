using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;

namespace Lcm.Jobs;

/// <summary>
/// A job resolved once: the request with every default filled in (what the status records) and what
/// the engine and the outputs need of it. Nothing downstream applies a default again.
/// </summary>
public sealed record JobPlan(JobRequest Request, GenerationRequest Generation, OutputFormat Format, int Quality)
{
    /// <summary>
    /// Fills in every default: seed (chosen by the caller, so a redelivery can reuse the first one),
    /// guidance (the model kind's), size (<paramref name="defaultSize"/>, which for image-to-image is the
    /// init image's own), steps, count, format, quality and, for image-to-image, strength.
    /// </summary>
    public static JobPlan Resolve(JobRequest request, long seed, ModelKind kind, (int Width, int Height)? defaultSize = null)
    {
        var format = OutputFormats.Parse(request.Format) ?? OutputFormat.Png;
        var (width, height) = defaultSize ?? (RequestLimits.DefaultSize, RequestLimits.DefaultSize);
        var normalised = request with
        {
            Steps = request.Steps ?? RequestLimits.DefaultSteps,
            GuidanceScale = request.GuidanceScale ?? GenerationLimits.Guidance(kind).Default,
            Width = request.Width ?? width,
            Height = request.Height ?? height,
            Seed = seed,
            Count = request.Count ?? 1,
            Loras = request.Loras ?? [],
            Format = format.ToString().ToLowerInvariant(),
            Quality = request.Quality ?? RequestLimits.DefaultQuality,
            Strength = request.InitImage is null ? null : request.Strength ?? RequestLimits.DefaultStrength,
        };
        return new JobPlan(normalised, ToGeneration(normalised), format, normalised.Quality!.Value);
    }

    /// <summary>The engine's request of a normalised job request (its init image is added once decoded).</summary>
    public static GenerationRequest ToGeneration(JobRequest normalised) => new()
    {
        Prompt = normalised.Prompt,
        Steps = normalised.Steps!.Value,
        GuidanceScale = normalised.GuidanceScale,
        NegativePrompt = normalised.NegativePrompt,
        Loras = (normalised.Loras ?? []).Select(l => new LoraReference(l.Name, l.Scale)).ToArray(),
        Width = normalised.Width!.Value,
        Height = normalised.Height!.Value,
        Seed = normalised.Seed,
        Count = normalised.Count!.Value,
        Strength = normalised.Strength,
    };
}
