using System.Text.Json;
using Lcm.Engine.Schedulers;

namespace Lcm.Engine.Loaders;

/// <summary>
/// A diffusers/optimum ONNX export of an LCM pipeline: where each graph is and the config values
/// the maths needs. Opening checks that the files exist and the configs parse; the graphs
/// themselves are checked when their sessions are created.
/// </summary>
public sealed class ModelFolder
{
    public const double DefaultVaeScalingFactor = 0.18215;

    private ModelFolder(string root) => Root = root;

    public string Root { get; }
    public string TextEncoderPath => Path.Combine(Root, "text_encoder", "model.onnx");
    public string UnetPath => Path.Combine(Root, "unet", "model.onnx");
    public string VaeDecoderPath => Path.Combine(Root, "vae_decoder", "model.onnx");
    /// <summary>Null when the export has no VAE encoder (text-to-image does not need one).</summary>
    public string? VaeEncoderPath { get; private init; }
    public string TokenizerDirectory => Path.Combine(Root, "tokenizer");
    public SchedulerConfig Scheduler { get; private init; } = new();
    public double VaeScalingFactor { get; private init; } = DefaultVaeScalingFactor;
    /// <summary>From unet/config.json; the UNet graph's own <c>timestep_cond</c> shape wins where it is fixed.</summary>
    public int? TimeCondProjDim { get; private init; }

    public static ModelFolder Open(string root)
    {
        root = Path.GetFullPath(root);
        if (!Directory.Exists(root))
            throw new ModelFormatException($"model folder '{root}' does not exist; expected a diffusers ONNX export with text_encoder/, unet/, vae_decoder/ and tokenizer/");
        var probe = new ModelFolder(root);
        foreach (string required in new[] { probe.TextEncoderPath, probe.UnetPath, probe.VaeDecoderPath,
                     Path.Combine(probe.TokenizerDirectory, "vocab.json"), Path.Combine(probe.TokenizerDirectory, "merges.txt") })
        {
            if (!File.Exists(required))
                throw new ModelFormatException($"model folder '{root}' is missing '{Path.GetRelativePath(root, required)}'");
        }
        string encoder = Path.Combine(root, "vae_encoder", "model.onnx");
        string schedulerPath = Path.Combine(root, "scheduler", "scheduler_config.json");
        SchedulerConfig scheduler;
        try
        {
            scheduler = ReadConfig<SchedulerConfig>(schedulerPath) ?? new SchedulerConfig();
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException($"'{schedulerPath}': {e.Message}", e);
        }
        if (scheduler.Problem() is { } problem)
            throw new ModelFormatException($"'{schedulerPath}': {problem}");
        return new ModelFolder(root)
        {
            VaeEncoderPath = File.Exists(encoder) ? encoder : null,
            Scheduler = scheduler,
            VaeScalingFactor = ReadNumber(Path.Combine(root, "vae_decoder", "config.json"), "scaling_factor") ?? DefaultVaeScalingFactor,
            TimeCondProjDim = (int?)ReadNumber(Path.Combine(root, "unet", "config.json"), "time_cond_proj_dim"),
        };
    }

    private static T? ReadConfig<T>(string path) where T : class
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"'{path}' is not a valid config: {e.Message}", e);
        }
    }

    private static double? ReadNumber(string path, string key)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (!document.RootElement.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.Number)
                throw new ModelFormatException($"'{path}': '{key}' must be a number, found {value.ValueKind}");
            return value.GetDouble();
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"'{path}' is not valid JSON: {e.Message}", e);
        }
    }
}
