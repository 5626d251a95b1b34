using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Lcm.Core.Generation;
using Lcm.Core.Imaging;
using Lcm.Core.Storage;
using Lcm.Core.Lora;

namespace Lcm.Core.Jobs;

/// <summary>
/// The job message of the contract (schema: schemas/job-request.schema.json). Only <see cref="Prompt"/>
/// is required; absent fields take the engine's defaults when the job is normalised.
/// </summary>
public sealed partial record JobRequest
{
    public const int MaxMessageBytes = 48 * 1024;

    public string? Id { get; init; }
    public required string Prompt { get; init; }
    public int? Steps { get; init; }
    public double? GuidanceScale { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public long? Seed { get; init; }
    public int? Count { get; init; }
    public string? Format { get; init; }
    public int? Quality { get; init; }
    public string? ReplyTo { get; init; }
    /// <summary>Image-to-image: a blob name in the container lcm-inputs, or the URL of such a blob in the service's account.</summary>
    public string? InitImage { get; init; }
    public double? Strength { get; init; }
    /// <summary>The unconditional text of classifier-free guidance; ignored (with a warning) by distilled LCMs.</summary>
    public string? NegativePrompt { get; init; }
    /// <summary>LoRAs by name in the worker's LoRA folder (LCM_LORA_PATH), merged in this order.</summary>
    public IReadOnlyList<LoraReference>? Loras { get; init; }

    public static bool IsValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>Queue names as Azure Storage allows them: 3-63 of a-z, 0-9 and single hyphens, starting and ending alphanumeric.</summary>
    public static bool IsValidQueueName(string? name) => name is not null && QueueNamePattern().IsMatch(name) && !name.Contains("--");

    public GenerationRequest ToGenerationRequest() => new()
    {
        Prompt = Prompt,
        Steps = Steps ?? GenerationLimits.DefaultSteps,
        GuidanceScale = GuidanceScale,
        NegativePrompt = NegativePrompt,
        Loras = Loras ?? [],
        Width = Width ?? GenerationLimits.DefaultSize,
        Height = Height ?? GenerationLimits.DefaultSize,
        Seed = Seed,
        Count = Count ?? 1,
        Strength = Strength,
    };

    [JsonIgnore]
    public OutputFormat OutputFormat => OutputFormats.Parse(Format) ?? OutputFormat.Png;

    /// <summary>Every field filled in (the seed too, once chosen) but the guidance scale, whose default is the model's.</summary>
    public JobRequest Normalised(long seed)
    {
        var generation = ToGenerationRequest();
        return this with
        {
            Steps = generation.Steps,
            GuidanceScale = generation.GuidanceScale,
            Width = generation.Width,
            Height = generation.Height,
            Seed = seed,
            Count = generation.Count,
            Loras = generation.Loras,
            Format = OutputFormat.ToString().ToLowerInvariant(),
            Quality = Quality ?? GenerationLimits.DefaultQuality,
            Strength = InitImage is null ? null : Strength ?? GenerationRequest.DefaultStrength,
        };
    }

    /// <summary>Checks the fields that are the contract's own; the engine's limits are checked by <see cref="GenerationRequest.Validate"/>.</summary>
    public void Validate()
    {
        if (Id is not null && !IsValidId(Id))
            throw new JobRejectedException(JobErrorCodes.InvalidId, "id must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'");
        if (Format is not null && OutputFormats.Parse(Format) is null)
            throw new JobRejectedException(JobErrorCodes.InvalidFormat, $"format must be png, jpeg or webp, found '{Format}'");
        if (Quality is < 1 or > 100)
            throw new JobRejectedException(JobErrorCodes.InvalidQuality, $"quality must be in 1..100, found {Quality}");
        if (ReplyTo is not null && !IsValidQueueName(ReplyTo))
            throw new JobRejectedException(JobErrorCodes.InvalidReplyTo, $"replyTo must be a storage queue name (3-63 of a-z, 0-9 and single '-'), found '{ReplyTo}'");
        if (InitImage is not null && !InputImages.IsPlausibleReference(InitImage))
            throw new JobRejectedException(JobErrorCodes.InvalidInitImage,
                "initImage must be a blob name in the container lcm-inputs (like 'job-1/init') or the URL of such a blob in this service's storage account");
        if (Strength is { } strength && (InitImage is null || !double.IsFinite(strength) || strength <= 0 || strength > 1))
            throw new JobRejectedException("invalid_strength", InitImage is null
                ? "strength applies to image-to-image only: give initImage or leave strength out"
                : $"strength must be in (0, 1], found {strength}");
        try
        {
            // The init image is not here yet: its size and pixels are checked once it is downloaded.
            (ToGenerationRequest() with { Strength = null }).Validate();
        }
        catch (InvalidRequestException e)
        {
            throw new JobRejectedException(e.Code, e.Message);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex QueueNamePattern();
}
