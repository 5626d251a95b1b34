namespace Lcm.Core.Generation;

/// <summary>One text-to-image request. Defaults come from <see cref="GenerationLimits"/>.</summary>
public sealed record GenerationRequest
{
    public required string Prompt { get; init; }
    public int Width { get; init; } = GenerationLimits.DefaultSize;
    public int Height { get; init; } = GenerationLimits.DefaultSize;
    public int Steps { get; init; } = GenerationLimits.DefaultSteps;
    public double GuidanceScale { get; init; } = GenerationLimits.DefaultGuidanceScale;
    /// <summary>0..4294967295; null draws a random seed, reported in the result. Image i uses seed + i (mod 2^32).</summary>
    public long? Seed { get; init; }
    public int Count { get; init; } = 1;
    /// <summary>Image-to-image: the picture to start from, already at <see cref="Width"/> x <see cref="Height"/> (see ImageInput).</summary>
    public Imaging.RgbImage? InitImage { get; init; }
    /// <summary>How far the init image is noised before denoising, in (0, 1]; 0.8 when an init image is given.</summary>
    public double? Strength { get; init; }

    public const double DefaultStrength = 0.8;

    /// <summary>1 for text-to-image (start from pure noise).</summary>
    public double EffectiveStrength => InitImage is null ? 1.0 : Strength ?? DefaultStrength;

    /// <summary>Requests with equal keys share timesteps and latent shapes, so they can run as one UNet batch.</summary>
    public (int Width, int Height, int Steps, double Strength) BatchKey => (Width, Height, Steps, EffectiveStrength);

    /// <summary>Checks every field against the limits; throws <see cref="InvalidRequestException"/> on the first problem.</summary>
    public void Validate(int maxImageSize = GenerationLimits.DefaultMaxImageSize, int maxSteps = GenerationLimits.MaxSteps)
    {
        if (string.IsNullOrWhiteSpace(Prompt))
            throw new InvalidRequestException("invalid_prompt", "prompt is required and must contain text");
        if (Prompt.Length > GenerationLimits.MaxPromptLength)
            throw new InvalidRequestException("invalid_prompt", $"prompt has {Prompt.Length} characters; at most {GenerationLimits.MaxPromptLength} are accepted");
        int control = Prompt.IndexOfAny(ControlCharacters);
        if (control >= 0)
            throw new InvalidRequestException("invalid_prompt", $"prompt contains the control character U+{(int)Prompt[control]:X4} at position {control}; remove it");
        CheckSize("width", Width, maxImageSize);
        CheckSize("height", Height, maxImageSize);
        int stepLimit = Math.Min(GenerationLimits.MaxSteps, maxSteps);
        if (Steps < 1 || Steps > stepLimit)
            throw new InvalidRequestException("invalid_steps", $"steps must be in 1..{stepLimit}, found {Steps}");
        if (!double.IsFinite(GuidanceScale) || GuidanceScale < 0 || GuidanceScale > GenerationLimits.MaxGuidanceScale)
            throw new InvalidRequestException("invalid_guidance_scale", $"guidanceScale must be in 0..{GenerationLimits.MaxGuidanceScale}, found {GuidanceScale}");
        if (Count < 1 || Count > GenerationLimits.MaxCount)
            throw new InvalidRequestException("invalid_count", $"count must be in 1..{GenerationLimits.MaxCount}, found {Count}");
        if (Seed is < 0 or > GenerationLimits.MaxSeed)
            throw new InvalidRequestException("invalid_seed", $"seed must be in 0..{GenerationLimits.MaxSeed}, found {Seed}");
        if (Strength is { } strength && (InitImage is null || !double.IsFinite(strength) || strength <= 0 || strength > 1))
            throw new InvalidRequestException("invalid_strength", InitImage is null
                ? "strength applies to image-to-image only: give an init image or leave strength out"
                : $"strength must be in (0, 1], found {strength}");
        if (InitImage is { } init && (init.Width != Width || init.Height != Height || init.Rgb.Length != Width * Height * 3))
            throw new InvalidRequestException("invalid_init_image", $"the init image is {init.Width}x{init.Height}; it must be resized to the requested {Width}x{Height}");
    }

    private static void CheckSize(string name, int value, int max)
    {
        if (value < GenerationLimits.MinImageSize || value > max || value % 8 != 0)
            throw new InvalidRequestException($"invalid_{name}", $"{name} must be a multiple of 8 in {GenerationLimits.MinImageSize}..{max}, found {value}");
    }

    // Tab, line feed and carriage return are ordinary prompt white space; every other C0/C1 control is refused.
    private static readonly char[] ControlCharacters = Enumerable.Range(0, 32).Where(c => c is not (9 or 10 or 13))
        .Concat(Enumerable.Range(127, 33)).Select(c => (char)c).ToArray();
}
