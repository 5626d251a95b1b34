using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lcm.Engine.Schedulers;

/// <summary>
/// The values of diffusers' LCMScheduler config that the maths uses. Defaults are diffusers' own,
/// so a config file that omits a key behaves as it would in Python.
/// </summary>
public sealed record SchedulerConfig
{
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;
    [JsonPropertyName("beta_start")] public double BetaStart { get; init; } = 0.00085;
    [JsonPropertyName("beta_end")] public double BetaEnd { get; init; } = 0.012;
    [JsonPropertyName("beta_schedule"), JsonConverter(typeof(BetaScheduleConverter))]
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.ScaledLinear;
    [JsonPropertyName("original_inference_steps")] public int OriginalInferenceSteps { get; init; } = 50;
    [JsonPropertyName("timestep_scaling")] public double TimestepScaling { get; init; } = 10.0;
    [JsonPropertyName("set_alpha_to_one")] public bool SetAlphaToOne { get; init; } = true;
    [JsonPropertyName("prediction_type"), JsonConverter(typeof(PredictionTypeConverter))]
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;
    [JsonPropertyName("clip_sample")] public bool ClipSample { get; init; }
    [JsonPropertyName("clip_sample_range")] public double ClipSampleRange { get; init; } = 1.0;

    /// <summary>
    /// Parses a scheduler_config.json; throws <see cref="ArgumentException"/> for a beta schedule or
    /// prediction type the maths does not implement, naming the key and the supported values.
    /// </summary>
    public static SchedulerConfig Parse(string json) =>
        JsonSerializer.Deserialize<SchedulerConfig>(json) ?? new SchedulerConfig();

    /// <summary>Returns the first problem with the values, or null when the config is usable.</summary>
    public string? Problem()
    {
        if (NumTrainTimesteps < 1) return $"num_train_timesteps must be at least 1, found {NumTrainTimesteps}";
        if (OriginalInferenceSteps < 1 || OriginalInferenceSteps > NumTrainTimesteps)
            return $"original_inference_steps must be in 1..{NumTrainTimesteps}, found {OriginalInferenceSteps}";
        return null;
    }
}

/// <summary>diffusers' <c>beta_schedule</c> values that the maths implements.</summary>
public enum BetaSchedule
{
    ScaledLinear,
    Linear,
}

/// <summary>diffusers' <c>prediction_type</c>: what the UNet's output is.</summary>
public enum PredictionType
{
    Epsilon,
    VPrediction,
    Sample,
}

internal static class SchedulerNames
{
    /// <summary>The name in scheduler_config.json, as <c>lcm info</c> prints it.</summary>
    public static string ToConfigName(this BetaSchedule value) => BetaScheduleConverter.Names[(int)value];

    public static string ToConfigName(this PredictionType value) => PredictionTypeConverter.Names[(int)value];
}

/// <summary>
/// An enum of the scheduler config by its diffusers names, <paramref name="names"/> in declaration order.
/// An unknown name throws <see cref="ArgumentException"/>, which the serializer passes through unwrapped,
/// so the message is the same wherever the config is read.
/// </summary>
internal abstract class ConfigNameConverter<T>(string key, string[] names) : JsonConverter<T> where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // A number or object is malformed JSON for the key, as it was when the value was read as a string.
        if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null)) throw new JsonException();
        string? name = reader.GetString();
        int index = Array.IndexOf(names, name);
        if (index < 0) throw new ArgumentException($"{key} must be one of {string.Join(", ", names)}, found '{name}'");
        return Enum.GetValues<T>()[index];
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteStringValue(names[Array.IndexOf(Enum.GetValues<T>(), value)]);
}

internal sealed class BetaScheduleConverter() : ConfigNameConverter<BetaSchedule>("beta_schedule", Names)
{
    internal static readonly string[] Names = ["scaled_linear", "linear"];
}

internal sealed class PredictionTypeConverter() : ConfigNameConverter<PredictionType>("prediction_type", Names)
{
    internal static readonly string[] Names = ["epsilon", "v_prediction", "sample"];
}
