using System.Text.Json;
using Lcm.Engine.Models;
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
    /// <summary>AutoencoderTiny's (TAESD, TAESDXL): it decodes the UNet's latents as they are.</summary>
    public const double TinyVaeScalingFactor = 1.0;

    private ModelFolder(string root) => Root = root;

    public string Root { get; }
    public string TextEncoderPath => Path.Combine(Root, "text_encoder", "model.onnx");
    public string UnetPath => Path.Combine(Root, "unet", "model.onnx");
    public string VaeDecoderPath => Path.Combine(Root, "vae_decoder", "model.onnx");
    /// <summary>A tiny autoencoder's decoder (TAESD / TAESDXL export) in vae_decoder_tiny/; null when the folder has none.</summary>
    public string? TinyVaeDecoderPath { get; private init; }
    /// <summary>The tiny autoencoder's encoder (AutoencoderTiny's, to UNet latents as they are) in vae_encoder_tiny/; null when there is none.</summary>
    public string? TinyVaeEncoderPath { get; private init; }
    /// <summary>Null when the export has no VAE encoder (text-to-image does not need one).</summary>
    public string? VaeEncoderPath { get; private init; }
    public string TokenizerDirectory => Path.Combine(Root, "tokenizer");
    /// <summary>SDXL's second text encoder (OpenCLIP bigG); null in SD 1.5-class folders.</summary>
    public string? TextEncoder2Path { get; private init; }
    /// <summary>SDXL's second tokenizer, which pads with "!"; null in SD 1.5-class folders.</summary>
    public string? Tokenizer2Directory { get; private init; }
    /// <summary>The family by the folder: a second tokenizer and text encoder make it SDXL-class (SDXL, SSD-1B).</summary>
    public ModelFamily Family => TextEncoder2Path is null ? ModelFamily.StableDiffusion : ModelFamily.StableDiffusionXL;
    /// <summary>
    /// model_index.json's <c>force_zeros_for_empty_prompt</c> (diffusers' default, true, when the key
    /// is missing): SDXL pipelines then guide against zero embeddings when no negative prompt is given.
    /// </summary>
    public bool ForceZerosForEmptyPrompt { get; private init; } = true;
    /// <summary>unet/config.json's <c>sample_size</c> (latent pixels a side), where given.</summary>
    public int? UnetSampleSize { get; private init; }
    public SchedulerConfig Scheduler { get; private init; } = new();
    public double VaeScalingFactor { get; private init; } = DefaultVaeScalingFactor;
    /// <summary>unet/config.json's <c>layers_per_block</c> (diffusers' default, 2, when missing): SGM-named LoRA keys number blocks by it.</summary>
    public int UnetLayersPerBlock { get; private init; } = 2;
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
        string encoder2 = Path.Combine(root, "text_encoder_2", "model.onnx"), tokenizer2 = Path.Combine(root, "tokenizer_2");
        bool hasEncoder2 = File.Exists(encoder2), hasTokenizer2 = File.Exists(Path.Combine(tokenizer2, "vocab.json"));
        if (hasEncoder2 != hasTokenizer2)
            throw new ModelFormatException(hasEncoder2
                ? $"model folder '{root}' has text_encoder_2/model.onnx but no tokenizer_2/vocab.json; an SDXL-class export has both"
                : $"model folder '{root}' has tokenizer_2/ but no text_encoder_2/model.onnx; an SDXL-class export has both");
        foreach (string required in hasEncoder2 ? [Path.Combine(tokenizer2, "merges.txt")] : Array.Empty<string>())
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
            TinyVaeDecoderPath = File.Exists(Path.Combine(root, "vae_decoder_tiny", "model.onnx")) ? Path.Combine(root, "vae_decoder_tiny", "model.onnx") : null,
            TinyVaeEncoderPath = File.Exists(Path.Combine(root, "vae_encoder_tiny", "model.onnx")) ? Path.Combine(root, "vae_encoder_tiny", "model.onnx") : null,
            Scheduler = scheduler,
            VaeScalingFactor = ScalingFactorBeside(probe.VaeDecoderPath, DefaultVaeScalingFactor),
            TimeCondProjDim = (int?)ReadNumber(Path.Combine(root, "unet", "config.json"), "time_cond_proj_dim"),
            UnetSampleSize = (int?)ReadNumber(Path.Combine(root, "unet", "config.json"), "sample_size"),
            UnetLayersPerBlock = (int?)ReadNumber(Path.Combine(root, "unet", "config.json"), "layers_per_block") ?? 2,
            TextEncoder2Path = hasEncoder2 ? encoder2 : null,
            Tokenizer2Directory = hasEncoder2 ? tokenizer2 : null,
            ForceZerosForEmptyPrompt = ReadBoolean(Path.Combine(root, "model_index.json"), "force_zeros_for_empty_prompt") ?? true,
        };
    }

    /// <summary>
    /// The decoder graph of a tiny autoencoder folder given by a setting: its model.onnx, or the
    /// vae_decoder/model.onnx of a TAESD export in optimum's layout.
    /// </summary>
    public static string TinyVaeDecoderIn(string folder)
    {
        folder = Path.GetFullPath(folder);
        foreach (string graph in new[] { Path.Combine(folder, "model.onnx"), Path.Combine(folder, "vae_decoder", "model.onnx") })
        {
            if (File.Exists(graph)) return graph;
        }
        throw new ModelFormatException($"tiny autoencoder folder '{folder}' has neither model.onnx nor vae_decoder/model.onnx; expected a TAESD or TAESDXL decoder exported to ONNX");
    }

    /// <summary>The encoder graph beside the decoder in a tiny autoencoder folder given by a setting (encoder/ or vae_encoder/), or null: decoding alone is enough.</summary>
    public static string? TinyVaeEncoderIn(string folder) =>
        new[] { "encoder", "vae_encoder" }.Select(name => Path.Combine(Path.GetFullPath(folder), name, "model.onnx")).FirstOrDefault(File.Exists);

    /// <summary>The scaling_factor in the config.json beside a VAE graph, or <paramref name="fallback"/> where it gives none.</summary>
    public static double ScalingFactorBeside(string graph, double fallback) =>
        ReadNumber(Path.Combine(Path.GetDirectoryName(graph)!, "config.json"), "scaling_factor") ?? fallback;

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

    private static double? ReadNumber(string path, string key) =>
        ReadValue<double>(path, key, "a number", value => value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null);

    private static bool? ReadBoolean(string path, string key) =>
        ReadValue<bool>(path, key, "true or false", value => value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null);

    /// <summary>A config value; null when the file or key is missing or null, an error when it is not what <paramref name="read"/> takes.</summary>
    private static T? ReadValue<T>(string path, string key, string expected, Func<JsonElement, T?> read) where T : struct
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (!document.RootElement.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            return read(value) ?? throw new ModelFormatException($"'{path}': '{key}' must be {expected}, found {value.ValueKind}");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"'{path}' is not valid JSON: {e.Message}", e);
        }
    }
}
