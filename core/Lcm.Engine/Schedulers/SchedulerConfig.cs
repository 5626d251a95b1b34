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
    [JsonPropertyName("beta_schedule")] public string BetaSchedule { get; init; } = "scaled_linear";
    [JsonPropertyName("original_inference_steps")] public int OriginalInferenceSteps { get; init; } = 50;
    [JsonPropertyName("timestep_scaling")] public double TimestepScaling { get; init; } = 10.0;
    [JsonPropertyName("set_alpha_to_one")] public bool SetAlphaToOne { get; init; } = true;
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";
    [JsonPropertyName("clip_sample")] public bool ClipSample { get; init; }
    [JsonPropertyName("clip_sample_range")] public double ClipSampleRange { get; init; } = 1.0;

    public static readonly string[] SupportedBetaSchedules = ["scaled_linear", "linear"];
    public static readonly string[] SupportedPredictionTypes = ["epsilon", "v_prediction", "sample"];

    public static SchedulerConfig Parse(string json) =>
        JsonSerializer.Deserialize<SchedulerConfig>(json) ?? new SchedulerConfig();

    /// <summary>Returns the first problem with the values, or null when the config is usable.</summary>
    public string? Problem()
    {
        if (NumTrainTimesteps < 1) return $"num_train_timesteps must be at least 1, found {NumTrainTimesteps}";
        if (OriginalInferenceSteps < 1 || OriginalInferenceSteps > NumTrainTimesteps)
            return $"original_inference_steps must be in 1..{NumTrainTimesteps}, found {OriginalInferenceSteps}";
        if (!SupportedBetaSchedules.Contains(BetaSchedule))
            return $"beta_schedule must be one of {string.Join(", ", SupportedBetaSchedules)}, found '{BetaSchedule}'";
        if (!SupportedPredictionTypes.Contains(PredictionType))
            return $"prediction_type must be one of {string.Join(", ", SupportedPredictionTypes)}, found '{PredictionType}'";
        return null;
    }
}
