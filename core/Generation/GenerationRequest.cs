using Lcm.Core.Lora;

namespace Lcm.Core.Generation;

/// <summary>One text-to-image request. Defaults come from <see cref="GenerationLimits"/>.</summary>
public sealed record GenerationRequest
{
    public required string Prompt { get; init; }
    public int Width { get; init; } = GenerationLimits.DefaultSize;
    public int Height { get; init; } = GenerationLimits.DefaultSize;
    public int Steps { get; init; } = GenerationLimits.DefaultSteps;
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

    public const double DefaultStrength = 0.8;

    /// <summary>1 for text-to-image (start from pure noise).</summary>
    public double EffectiveStrength => InitImage is null ? 1.0 : Strength ?? DefaultStrength;

    /// <summary>Requests with equal keys share timesteps and latent shapes, so they can run as one UNet batch.</summary>
    public (int Width, int Height, int Steps, double Strength) BatchKey => (Width, Height, Steps, EffectiveStrength);

    /// <summary>
    /// Checks every field against the limits; throws <see cref="InvalidRequestException"/> on the first
    /// problem. Before the model is known, guidance is checked against the widest limit.
    /// </summary>
    public void Validate(int maxImageSize = GenerationLimits.DefaultMaxImageSize, int maxSteps = GenerationLimits.MaxSteps,
        double maxGuidanceScale = GenerationLimits.MaxGuidanceScale)
    {
        if (string.IsNullOrWhiteSpace(Prompt))
            throw new InvalidRequestException("invalid_prompt", "prompt is required and must contain text");
        CheckText("prompt", "invalid_prompt", Prompt);
        if (NegativePrompt is not null) CheckText("negativePrompt", "invalid_negative_prompt", NegativePrompt);
        CheckSize("width", Width, maxImageSize);
        CheckSize("height", Height, maxImageSize);
        int stepLimit = Math.Min(GenerationLimits.MaxSteps, maxSteps);
        if (Steps < 1 || Steps > stepLimit)
            throw new InvalidRequestException("invalid_steps", $"steps must be in 1..{stepLimit}, found {Steps}");
        if (GuidanceScale is double guidance && (!double.IsFinite(guidance) || guidance < 0 || guidance > maxGuidanceScale))
            throw new InvalidRequestException("invalid_guidance_scale", $"guidanceScale must be in 0..{maxGuidanceScale}{(maxGuidanceScale < GenerationLimits.MaxGuidanceScale ? " for this model" : "")}, found {guidance}");
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
        CheckLoras();
    }

    private static void CheckText(string name, string code, string text)
    {
        if (text.Length > GenerationLimits.MaxPromptLength)
            throw new InvalidRequestException(code, $"{name} has {text.Length} characters; at most {GenerationLimits.MaxPromptLength} are accepted");
        int control = text.IndexOfAny(ControlCharacters);
        if (control >= 0)
            throw new InvalidRequestException(code, $"{name} contains the control character U+{(int)text[control]:X4} at position {control}; remove it");
    }

    private void CheckLoras()
    {
        if (Loras.Count > GenerationLimits.MaxLoras)
            throw new InvalidRequestException("invalid_loras", $"at most {GenerationLimits.MaxLoras} loras are accepted, found {Loras.Count}");
        foreach (var lora in Loras)
        {
            if (!LoraFolder.IsValidName(lora.Name))
                throw new InvalidRequestException("invalid_loras", $"lora name must be 1-100 of A-Z, a-z, 0-9, '_', '-' and '.' (a name in the worker's LoRA folder, not a path), found '{lora.Name}'");
            if (!double.IsFinite(lora.Scale) || Math.Abs(lora.Scale) > GenerationLimits.MaxLoraScale)
                throw new InvalidRequestException("invalid_loras", $"lora '{lora.Name}' scale must be in -{GenerationLimits.MaxLoraScale}..{GenerationLimits.MaxLoraScale}, found {lora.Scale}");
        }
        if (Loras.GroupBy(l => l.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidRequestException("invalid_loras", $"lora '{twice.Key}' is named twice; give it once with the sum of the scales");
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
