using System.Text.Json;
using System.Text.Json.Serialization;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Pipelines;

namespace Lcm.Realtime;

/// <summary>
/// A <c>params</c> message: what the session's next frames are made with. Unknown fields are refused,
/// so a misspelt one does not silently fall back to a default.
/// </summary>
public sealed record RealtimeParams
{
    /// <summary>Real time means few steps: LCM gives a picture in one.</summary>
    public const int MaxSteps = 4;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    public string Type { get; init; } = "params";
    public string Prompt { get; init; } = "";
    public string? NegativePrompt { get; init; }
    public int Steps { get; init; } = 1;
    public double Strength { get; init; } = 0.5;
    public double? GuidanceScale { get; init; }
    public long? Seed { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public IReadOnlyList<LoraReference> Loras { get; init; } = [];
    public RealtimeMode Mode { get; init; } = RealtimeMode.Text;
    /// <summary>Null: the tiny autoencoder where the model has one, else the full VAE.</summary>
    public VaeDecoderKind? Decoder { get; init; }

    /// <summary>Parses a text message; throws <see cref="InvalidRequestException"/> with <see cref="RealtimeErrors.InvalidMessage"/> when it is not a params message.</summary>
    public static RealtimeParams Parse(string text)
    {
        RealtimeParams? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<RealtimeParams>(text, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException(RealtimeErrors.InvalidMessage, $"the message is not a valid params message: {e.Message}");
        }
        if (parsed is null || parsed.Type != "params")
            throw new InvalidRequestException(RealtimeErrors.InvalidMessage, $"expected a JSON object with \"type\": \"params\", found '{Shorten(text)}'");
        if (parsed.Steps is < 1 or > MaxSteps)
            throw new InvalidRequestException(RealtimeErrors.InvalidParams, $"steps must be 1 to {MaxSteps} in real time, found {parsed.Steps}");
        return parsed;
    }

    /// <summary>
    /// The engine's request for one frame at this session's size; the engine's checks apply, so every
    /// rule is the one a job has. <paramref name="init"/> is the camera frame in image mode.
    /// </summary>
    public GenerationRequest ToRequest(EngineCapabilities engine, long sessionSeed, RgbImage? init) => new()
    {
        Prompt = Prompt,
        NegativePrompt = NegativePrompt,
        Steps = Steps,
        GuidanceScale = GuidanceScale,
        Seed = Seed ?? sessionSeed,
        Width = Width ?? engine.DefaultWidth,
        Height = Height ?? engine.DefaultHeight,
        Loras = Loras,
        InitImage = init,
        Strength = init is null ? null : Strength,
        Decoder = Decoder ?? (engine.SupportsTinyDecoder ? VaeDecoderKind.Tiny : VaeDecoderKind.Full),
    };

    /// <summary>What decides whether two sessions' frames can share a batch, before their frames are decoded.</summary>
    public (int Width, int Height, int Steps, double Strength) BatchKey(EngineCapabilities engine) =>
        (Width ?? engine.DefaultWidth, Height ?? engine.DefaultHeight, Steps, Mode == RealtimeMode.Image ? Strength : 1.0);

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";
}

public enum RealtimeMode
{
    /// <summary>Text to image: a new picture each time the params change.</summary>
    Text,

    /// <summary>Image to image on each binary frame the client sends (the camera).</summary>
    Image,
}
