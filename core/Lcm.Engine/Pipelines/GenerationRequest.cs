using Lcm.Contracts;
using Lcm.Engine.Loaders.Lora;

namespace Lcm.Engine.Pipelines;

/// <summary>One text-to-image (or image-to-image) request. Defaults come from <see cref="RequestLimits"/>.</summary>
public sealed record GenerationRequest
{
    public required string Prompt { get; init; }
    public int Width { get; init; } = RequestLimits.DefaultSize;
    public int Height { get; init; } = RequestLimits.DefaultSize;
    public int Steps { get; init; } = RequestLimits.DefaultSteps;
    /// <summary>Null takes the model's default (<see cref="GenerationLimits.Guidance"/>), which the engine knows.</summary>
    public double? GuidanceScale { get; init; }
    /// <summary>The unconditional text of classifier-free guidance (LCM-LoRA models above guidance 1); null is the empty text.</summary>
    public string? NegativePrompt { get; init; }
    /// <summary>LoRAs by name in the worker's LoRA folder, merged in this order.</summary>
    public IReadOnlyList<LoraReference> Loras { get; init; } = [];
    /// <summary>0..4294967295; null draws a random seed, reported in the result. Image i uses seed + i (mod 2^32).</summary>
    public long? Seed { get; init; }
    public int Count { get; init; } = 1;
    /// <summary>Image-to-image: the picture to start from, already at <see cref="Width"/> x <see cref="Height"/> (see ImageInput).</summary>
    public Imaging.RgbImage? InitImage { get; init; }
    /// <summary>How far the init image is noised before denoising, in (0, 1]; 0.8 when an init image is given.</summary>
    public double? Strength { get; init; }
    public VaeDecoderKind Decoder { get; init; } = VaeDecoderKind.Full;
    /// <summary>Gets each step's <see cref="LatentPreview"/> of the request's first image in the running batch; null: none are made.</summary>
    public IProgress<LatentPreview>? Preview { get; init; }

        /// <summary>1 for text-to-image (start from pure noise).</summary>
    public double EffectiveStrength => InitImage is null ? 1.0 : Strength ?? RequestLimits.DefaultStrength;

    /// <summary>Requests with equal keys share timesteps and latent shapes, so they can run as one UNet batch.</summary>
    public (int Width, int Height, int Steps, double Strength) BatchKey => (Width, Height, Steps, EffectiveStrength);

    /// <summary>
    /// Checks every field against the contract's rules and a model's narrower limits; throws
    /// <see cref="InvalidRequestException"/> on the first problem.
    /// </summary>
    public void Validate(int maxImageSize = RequestLimits.MaxImageSize, int maxSteps = RequestLimits.MaxSteps,
        double maxGuidanceScale = RequestLimits.MaxGuidanceScale)
    {
        var error = RequestRules.Prompt(Prompt)
            ?? RequestRules.NegativePrompt(NegativePrompt)
            ?? RequestRules.Size("width", Width, maxImageSize)
            ?? RequestRules.Size("height", Height, maxImageSize)
            ?? RequestRules.Steps(Steps, maxSteps)
            ?? RequestRules.GuidanceScale(GuidanceScale, maxGuidanceScale)
            ?? RequestRules.Count(Count)
            ?? RequestRules.Seed(Seed)
            ?? RequestRules.Strength(Strength, InitImage is not null)
            ?? RequestRules.Loras(Loras.Select(l => (l.Name, l.Scale)).ToArray());
        if (error is not null) throw new InvalidRequestException(error.Code, error.Message);
        if (InitImage is { } init && (init.Width != Width || init.Height != Height || init.Rgb.Length != Width * Height * 3))
            throw new InvalidRequestException(JobErrorCodes.InvalidInitImage, $"the init image is {init.Width}x{init.Height}; it must be resized to the requested {Width}x{Height}");
    }
}
