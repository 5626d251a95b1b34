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
    /// Loads a model folder, with <paramref name="loras"/> merged into its UNet and text encoder first
    /// (cached under <see cref="EngineOptions.MergedModelDirectory"/>) when given.
    /// </summary>
    public static LcmEngine Load(string modelPath, EngineOptions? options = null, ILogger? logger = null, IReadOnlyList<LoraFile>? loras = null)
    {
        options ??= new EngineOptions();
        logger ??= NullLogger.Instance;
        loras ??= [];
        var model = ModelFolder.Open(modelPath);
        var tokenizer = ClipTokenizer.FromFolder(model.TokenizerDirectory);
        var paths = GraphFiles(model, options, logger, loras);
        var sessions = new SessionFactory(options, logger);
        var graphs = new List<IDisposable>();
        try
        {
            OnnxGraph Open(string path)
            {
                var graph = new OnnxGraph(path, sessions.Create(path));
                graphs.Add(graph);
                return graph;
            }
            var textEncoder = new TextEncoder(Open(paths.TextEncoder));
            var unet = new Unet(Open(paths.Unet), model.TimeCondProjDim);
            var vaeDecoder = new VaeDecoder(Open(model.VaeDecoderPath));
            if (textEncoder.HiddenSize is int te && unet.HiddenSize is int un && te != un)
                throw new ModelFormatException($"'{model.TextEncoderPath}' gives hidden states of width {te} but '{model.UnetPath}' input 'encoder_hidden_states' expects {un}");
            logger.LogInformation("Loaded LCM model {Model} on {Provider}", model.Root, sessions.ActiveProvider);
            var memory = MemoryBudget.Resolve(RunMemoryEstimate.For(model.Root, unet.ElementBytes), options.MemoryBudgetBytes, sessions.ActiveProvider,
                options.CudaDeviceId, WeightBytes(paths.TextEncoder, paths.Unet, model.VaeDecoderPath), logger);
            return new LcmEngine(model, options, sessions, loras, tokenizer, textEncoder, unet, IGuidance.For(unet), vaeDecoder, memory);
        }
        catch
        {
            graphs.ForEach(g => g.Dispose());
            throw;
        }
    }

    /// <summary>The graphs' files with their external data (model.onnx_data), which stay in memory while the engine lives.</summary>
    private static long WeightBytes(params string[] graphs) =>
        graphs.Sum(graph => new DirectoryInfo(Path.GetDirectoryName(graph)!).EnumerateFiles(Path.GetFileName(graph) + "*").Sum(f => f.Length));

    private static GraphPaths GraphFiles(ModelFolder model, EngineOptions options, ILogger logger, IReadOnlyList<LoraFile> loras) =>
        loras.Count == 0 ? new GraphPaths(model.TextEncoderPath, model.UnetPath)
            : new MergedModels(options.MergedModelDirectory ?? throw new InvalidOperationException("EngineOptions.MergedModelDirectory must be set to merge LoRAs"), logger, options.MergedModelMaxBytes)
                .GetOrMerge(model, loras);
}
