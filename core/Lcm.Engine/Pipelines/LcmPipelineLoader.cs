using Lcm.Engine.Guidance;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Memory;
using Lcm.Engine.Models;
using Lcm.Engine.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Engine.Pipelines;

/// <summary>Loads an engine: model folder, then (LoRA-merged) graph files, sessions, graph adapters and the guidance they call for.</summary>
internal static class LcmPipelineLoader
{
    /// <summary>
    /// Loads a model folder, with <paramref name="loras"/> merged into its UNet and text encoders first
    /// (cached under <see cref="EngineOptions.MergedModelDirectory"/>) when given.
    /// </summary>
    public static LcmEngine Load(string modelPath, EngineOptions? options = null, ILogger? logger = null, IReadOnlyList<LoraFile>? loras = null)
    {
        options ??= new EngineOptions();
        logger ??= NullLogger.Instance;
        loras ??= [];
        var model = ModelFolder.Open(modelPath);
        var tokenizer = ClipTokenizer.FromFolder(model.TokenizerDirectory);
        var tokenizer2 = model.Tokenizer2Directory is { } directory ? ClipTokenizer.FromFolder(directory) : null;
        var paths = GraphFiles(model, options, logger, loras);
        var sessions = new SessionFactory(options, logger);
        var graphs = new List<IDisposable>();
        try
        {
            OnnxGraph Open(string path, bool unet = false)
            {
                var graph = new OnnxGraph(path, sessions.Create(path, unet));
                graphs.Add(graph);
                return graph;
            }
            bool sdxl = model.Family == ModelFamily.StableDiffusionXL;
            var encoders = new List<(string, ClipTokenizer, TextEncoder)> { ("text_encoder", tokenizer, new TextEncoder(Open(paths.TextEncoder), penultimate: sdxl)) };
            if (sdxl) encoders.Add(("text_encoder_2", tokenizer2!, new TextEncoder(Open(paths.TextEncoder2!), penultimate: true, pooled: true)));
            var prompts = new PromptEncoder(encoders, zerosForAbsentNegative: sdxl && model.ForceZerosForEmptyPrompt);
            var unet = new Unet(Open(paths.Unet, unet: true), model.TimeCondProjDim);
            var vaeDecoder = new VaeDecoder(Open(model.VaeDecoderPath), model.VaeScalingFactor);
            CheckFamily(model, unet);
            if (prompts.HiddenSize is int te && unet.HiddenSize is int un && te != un)
                throw new ModelFormatException(sdxl
                    ? $"'{model.TextEncoderPath}' and '{model.TextEncoder2Path}' give hidden states of width {te} together but '{model.UnetPath}' input 'encoder_hidden_states' expects {un}"
                    : $"'{model.TextEncoderPath}' gives hidden states of width {te} but '{model.UnetPath}' input 'encoder_hidden_states' expects {un}");
            if (prompts.PooledSize is int pooled && unet.PooledSize is int takes && pooled != takes)
                throw new ModelFormatException($"'{model.TextEncoder2Path}' gives text_embeds of width {pooled} but '{model.UnetPath}' input 'text_embeds' expects {takes}");
            logger.LogInformation("Loaded {Family} LCM model {Model} on {Provider}", model.Family, model.Root, sessions.ActiveProvider);
            var memory = MemoryBudget.Resolve(RunMemoryEstimate.For(model.Root, unet.ElementBytes, sessions.AttentionBlockTokens), options.MemoryBudgetBytes, options.VaeTiling, sessions.ActiveProvider,
                options.CudaDeviceId, WeightBytes([paths.TextEncoder, paths.TextEncoder2, paths.Unet, model.VaeDecoderPath]), logger);
            return new LcmEngine(model, options, sessions, loras, prompts, unet, IGuidance.For(unet), vaeDecoder, memory, TinyDecoders(model, options));
        }
        catch
        {
            graphs.ForEach(g => g.Dispose());
            throw;
        }
    }

    /// <summary>
    /// The tiny autoencoders' graphs: the settings' folders, else the model folder's vae_decoder_tiny/ for both
    /// decoders and its vae_encoder_tiny/ for the encoder.
    /// </summary>
    private static TinyVaePaths TinyDecoders(ModelFolder model, EngineOptions options)
    {
        var (tiny, encoder) = options.TinyVaePath is { } folder
            ? (ModelFolder.TinyVaeDecoderIn(folder), ModelFolder.TinyVaeEncoderIn(folder))
            : (model.TinyVaeDecoderPath, model.TinyVaeEncoderPath);
        return new(tiny, options.PreviewVaePath is { } preview ? ModelFolder.TinyVaeDecoderIn(preview) : tiny, encoder);
    }

    /// <summary>The folder's second encoder and the UNet's added conditions come together, or the export is incomplete.</summary>
    private static void CheckFamily(ModelFolder model, Unet unet)
    {
        if (model.Family == ModelFamily.StableDiffusionXL && !unet.TakesAddedConditions)
            throw new ModelFormatException($"model folder '{model.Root}' has text_encoder_2/ and tokenizer_2/ (SDXL-class) but '{model.UnetPath}' has no inputs text_embeds and time_ids");
        if (model.Family == ModelFamily.StableDiffusion && unet.TakesAddedConditions)
            throw new ModelFormatException($"'{model.UnetPath}' takes text_embeds and time_ids (an SDXL-class UNet) but model folder '{model.Root}' has no text_encoder_2/model.onnx and tokenizer_2/");
    }

    /// <summary>The graphs' files with their external data (model.onnx_data), which stay in memory while the engine lives.</summary>
    private static long WeightBytes(IEnumerable<string?> graphs) =>
        graphs.OfType<string>().Sum(graph => new DirectoryInfo(Path.GetDirectoryName(graph)!).EnumerateFiles(Path.GetFileName(graph) + "*").Sum(f => f.Length));

    private static GraphPaths GraphFiles(ModelFolder model, EngineOptions options, ILogger logger, IReadOnlyList<LoraFile> loras) =>
        loras.Count == 0 ? new GraphPaths(model.TextEncoderPath, model.UnetPath, model.TextEncoder2Path)
            : new MergedModels(options.MergedModelDirectory ?? throw new InvalidOperationException("EngineOptions.MergedModelDirectory must be set to merge LoRAs"), logger, options.MergedModelMaxBytes)
                .GetOrMerge(model, loras);
}
