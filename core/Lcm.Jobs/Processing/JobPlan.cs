using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Pipelines;

namespace Lcm.Jobs;

/// <summary>
/// A job resolved once: the request with every default filled in (what the status records) and what
/// the engine and the outputs need of it. Nothing downstream applies a default again.
/// </summary>
internal sealed record JobPlan(JobRequest Request, GenerationRequest Generation, OutputFormat Format, int Quality)
{
    /// <summary>
    /// Every default but an image-to-image job's size, whose default is the init image's own size and
    /// is known once the image is fetched: seed (chosen by the caller, so a redelivery reuses the first
    /// one), guidance and size (the model's), steps, count, format, quality, decoder, strength (image-to-image's and
    /// video's) and a video's start and output format (its frame rate and frame bound depend on the source and the worker).
    /// </summary>
    public static JobRequest Normalise(JobRequest request, long seed, EngineCapabilities model) => request with
    {
        Steps = request.Steps ?? RequestLimits.DefaultSteps,
        GuidanceScale = request.GuidanceScale ?? model.Guidance.Default,
        Width = request.Width ?? (HasOwnSize(request) ? null : model.DefaultWidth),
        Height = request.Height ?? (HasOwnSize(request) ? null : model.DefaultHeight),
        Seed = seed,
        Count = request.Count ?? 1,
        Loras = (request.Loras ?? []).Select(l => l with { Scale = QuantisedScale(l.Scale) }).ToArray(),
        Format = (OutputFormats.Parse(request.Format) ?? OutputFormat.Png).ToString().ToLowerInvariant(),
        Quality = request.Quality ?? RequestLimits.DefaultQuality,
        Strength = request.Video is not null ? request.Strength ?? RequestLimits.DefaultVideoStrength
            : request.InitImage is null ? null : request.Strength ?? RequestLimits.DefaultStrength,
        Video = request.Video is { } video ? video with
        {
            Start = video.Start ?? 0,
            Format = video.Format ?? "mp4",
        } : null,
        Decoder = request.Decoder ?? "full",
    };

    /// <summary>Image-to-image and video jobs default to their input's size, known once it is fetched.</summary>
    private static bool HasOwnSize(JobRequest request) => request.InitImage is not null || request.Video is not null;

    /// <summary>
    /// LoRA scales in steps of 0.05: each distinct scale is a merged copy of the UNet on disk, and finer
    /// steps change nothing a person can see. The status records the scale applied.
    /// </summary>
    public static double QuantisedScale(double scale) => Math.Round(Math.Round(scale * 20, MidpointRounding.AwayFromZero) / 20, 2);

    /// <summary>
    /// The plan of a normalised request. <paramref name="initImageSize"/> is the size an image-to-image
    /// job defaults to (<see cref="ImageInput.DefaultSize"/> of its init image under the model's size limit).
    /// </summary>
    public static JobPlan Resolve(JobRequest normalised, (int Width, int Height)? initImageSize = null)
    {
        var (width, height) = initImageSize ?? (RequestLimits.DefaultSize, RequestLimits.DefaultSize);
        var request = normalised with { Width = normalised.Width ?? width, Height = normalised.Height ?? height };
        return new JobPlan(request, ToGeneration(request), OutputFormats.Parse(request.Format) ?? OutputFormat.Png, request.Quality!.Value);
    }

    /// <summary>A video frame's image-to-image run: the same request and seed for every frame, so every frame gets the same noise.</summary>
    public GenerationRequest Frame(byte[] png, ImageInputLimits limits) =>
        Generation with { InitImage = ImageInput.Decode(png, Generation.Width, Generation.Height, limits) };

    /// <summary>The engine's request of a resolved job request (the init image's pixels are added once decoded).</summary>
    public static GenerationRequest ToGeneration(JobRequest resolved) => new()
    {
        Prompt = resolved.Prompt,
        Steps = resolved.Steps!.Value,
        GuidanceScale = resolved.GuidanceScale,
        NegativePrompt = resolved.NegativePrompt,
        Loras = (resolved.Loras ?? []).Select(l => new LoraReference(l.Name, l.Scale)).ToArray(),
        Width = resolved.Width!.Value,
        Height = resolved.Height!.Value,
        Seed = resolved.Seed,
        Count = resolved.Count!.Value,
        Strength = resolved.Strength,
        Decoder = VaeDecoderKinds.Parse(resolved.Decoder) ?? VaeDecoderKind.Full,
    };
}
