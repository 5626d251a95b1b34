namespace Lcm.Contracts;

/// <summary>
/// The rules of a request's fields, each in one place: the parser (for a job) and the engine (for a
/// direct call) both ask these and throw their own refusal. Null means the value is fine.
/// </summary>
public static class RequestRules
{
    public static JobError? Prompt(string? prompt) =>
        string.IsNullOrWhiteSpace(prompt) ? new JobError(JobErrorCodes.InvalidPrompt, "prompt is required and must contain text") : Text("prompt", JobErrorCodes.InvalidPrompt, prompt);

    public static JobError? NegativePrompt(string? text) => text is null ? null : Text("negativePrompt", JobErrorCodes.InvalidNegativePrompt, text);

    /// <summary>A width or height: a multiple of 8 in 64..<paramref name="max"/> (a model may allow less than the contract).</summary>
    public static JobError? Size(string name, int value, int max = RequestLimits.MaxImageSize) =>
        value < RequestLimits.MinImageSize || value > max || value % 8 != 0
            ? new JobError($"invalid_{name}", $"{name} must be a multiple of 8 in {RequestLimits.MinImageSize}..{max}, found {value}") : null;

    public static JobError? Steps(int steps, int max = RequestLimits.MaxSteps) =>
        steps < 1 || steps > Math.Min(max, RequestLimits.MaxSteps)
            ? new JobError(JobErrorCodes.InvalidSteps, $"steps must be in 1..{Math.Min(max, RequestLimits.MaxSteps)}, found {steps}") : null;

    public static JobError? GuidanceScale(double? guidance, double max = RequestLimits.MaxGuidanceScale) =>
        guidance is double g && (!double.IsFinite(g) || g < 0 || g > max)
            ? new JobError(JobErrorCodes.InvalidGuidanceScale, $"guidanceScale must be in 0..{max}{(max < RequestLimits.MaxGuidanceScale ? " for this model" : "")}, found {g}") : null;

    public static JobError? Count(int count) =>
        count is < 1 or > RequestLimits.MaxCount ? new JobError(JobErrorCodes.InvalidCount, $"count must be in 1..{RequestLimits.MaxCount}, found {count}") : null;

    public static JobError? Seed(long? seed) =>
        seed is < 0 or > RequestLimits.MaxSeed ? new JobError(JobErrorCodes.InvalidSeed, $"seed must be in 0..{RequestLimits.MaxSeed}, found {seed}") : null;

    /// <summary>Strength is image-to-image's only, in (0, 1].</summary>
    public static JobError? Strength(double? strength, bool hasInitImage) =>
        strength is { } s && (!hasInitImage || !double.IsFinite(s) || s <= 0 || s > 1)
            ? new JobError(JobErrorCodes.InvalidStrength, hasInitImage ? $"strength must be in (0, 1], found {s}"
                : "strength applies to image-to-image only: give an init image (initImage) or leave strength out") : null;

    /// <summary>A job's video: an input blob, a resampling rate in (0, 30], a window of the source, a frame bound and an output format.</summary>
    public static JobError? Video(JobVideo? video, string? initImage, int? count)
    {
        if (video is null) return null;
        if (initImage is not null) return VideoError("give either video or initImage, not both: every frame of the video is the init image of its run");
        if (count is not (null or 1)) return VideoError($"a video job makes one output video; leave count out, found {count}");
        if (video.Input is not { } input || !Names.IsPlausibleInitImage(input))
            return VideoError("video.input must be a blob name in the container lcm-inputs (like 'job-1/video') or the URL of such a blob in this service's storage account");
        if (video.Fps is { } fps && (!double.IsFinite(fps) || fps <= 0 || fps > RequestLimits.MaxVideoFps))
            return VideoError($"video.fps must be in (0, {RequestLimits.MaxVideoFps}], found {fps}");
        if (video.Start is { } start && (!double.IsFinite(start) || start < 0))
            return VideoError($"video.start must be 0 or more seconds, found {start}");
        if (video.Duration is { } duration && (!double.IsFinite(duration) || duration <= 0))
            return VideoError($"video.duration must be more than 0 seconds, found {duration}");
        if (video.MaxFrames is < 1 or > RequestLimits.MaxVideoFrames)
            return new JobError(JobErrorCodes.VideoTooManyFrames, $"video.maxFrames must be in 1..{RequestLimits.MaxVideoFrames}, found {video.MaxFrames}");
        return video.Format is { } format && !JobVideo.Formats.Contains(format)
            ? VideoError($"video.format must be one of {string.Join(", ", JobVideo.Formats)}, found '{format}'") : null;
    }

    private static JobError VideoError(string message) => new(JobErrorCodes.InvalidVideo, message);

    public static JobError? Loras(IReadOnlyList<(string Name, double Scale)> loras)
    {
        if (loras.Count > RequestLimits.MaxLoras)
            return new JobError(JobErrorCodes.InvalidLoras, $"at most {RequestLimits.MaxLoras} loras are accepted, found {loras.Count}");
        foreach (var (name, scale) in loras)
        {
            if (!Names.IsValidLoraName(name))
                return new JobError(JobErrorCodes.InvalidLoras, $"lora name must be 1-100 of A-Z, a-z, 0-9, '_', '-' and '.' (a name in the worker's LoRA folder, not a path), found '{name}'");
            if (!double.IsFinite(scale) || Math.Abs(scale) > RequestLimits.MaxLoraScale)
                return new JobError(JobErrorCodes.InvalidLoras, $"lora '{name}' scale must be in -{RequestLimits.MaxLoraScale}..{RequestLimits.MaxLoraScale}, found {scale}");
        }
        return loras.GroupBy(l => l.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice
            ? new JobError(JobErrorCodes.InvalidLoras, $"lora '{twice.Key}' is named twice; give it once with the sum of the scales") : null;
    }

    private static JobError? Text(string name, string code, string text)
    {
        if (text.Length > RequestLimits.MaxPromptLength)
            return new JobError(code, $"{name} has {text.Length} characters; at most {RequestLimits.MaxPromptLength} are accepted");
        int control = text.IndexOfAny(ControlCharacters);
        return control >= 0 ? new JobError(code, $"{name} contains the control character U+{(int)text[control]:X4} at position {control}; remove it") : null;
    }

    // Tab, line feed and carriage return are ordinary prompt white space; every other C0/C1 control is refused.
    private static readonly char[] ControlCharacters = Enumerable.Range(0, 32).Where(c => c is not (9 or 10 or 13))
        .Concat(Enumerable.Range(127, 33)).Select(c => (char)c).ToArray();
}
