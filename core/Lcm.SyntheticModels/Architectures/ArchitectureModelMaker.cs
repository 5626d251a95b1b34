using Lcm.Engine.Loaders;
using Lcm.Engine.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>
/// Writes a model folder of a real architecture (<see cref="ModelArchitecture"/>) with seeded random
/// weights, in the optimum layout and with the input and output names of the test models, so
/// benchmarks see the true cost of each stage. Its pictures are meaningless. Full size it is several
/// gigabytes, so <see cref="EnsureCached"/> writes it once per <see cref="ArchitectureOptions.CacheKey"/>.
/// </summary>
public static class ArchitectureModelMaker
{
    public static void Write(string directory, ArchitectureOptions options)
    {
        if (options.WidthDivisor is not (1 or 2 or 4 or 8)) throw new ArgumentException("the width divisor must be 1, 2, 4 or 8", nameof(options));
        Directory.CreateDirectory(directory);
        Dim batch = "batch";
        var vocabulary = ClipBpeVocabulary.Build();
        bool sdxl = options.Architecture == ModelArchitecture.Sdxl, distilled = options.Kind == ModelKind.Distilled;
        if (sdxl)
        {
            SdxlGraphs.WriteTokenizers(directory, vocabulary);
            ClipTextArchitecture.Write(Path.Combine(directory, "text_encoder"), options, batch, vocabulary.Tokens.Count, ClipTextShape.SdxlFirst);
            ClipTextArchitecture.Write(Path.Combine(directory, "text_encoder_2"), options, batch, vocabulary.Tokens.Count, ClipTextShape.SdxlSecond);
        }
        else
        {
            TestModelMaker.WriteTokenizer(Path.Combine(directory, "tokenizer"), vocabulary, ClipBpeVocabulary.EndOfText);
            ClipTextArchitecture.Write(Path.Combine(directory, "text_encoder"), options, batch, vocabulary.Tokens.Count, ClipTextShape.Sd15);
        }
        UnetArchitecture.Write(Path.Combine(directory, "unet"), options, batch, sdxl ? UnetLayout.Sdxl : UnetLayout.Sd15);
        AutoencoderKlArchitecture.WriteDecoder(Path.Combine(directory, "vae_decoder"), options, batch);
        AutoencoderKlArchitecture.WriteEncoder(Path.Combine(directory, "vae_encoder"), options, batch);
        ModelJson.Write(Path.Combine(directory, "scheduler", "scheduler_config.json"),
            distilled ? TestModelMaker.SchedulerConfig : sdxl ? SdxlGraphs.EulerSchedulerConfig : Sd15StyleGraphs.SchedulerConfig);
        ModelJson.Write(Path.Combine(directory, "model_index.json"),
            sdxl ? SdxlGraphs.ModelIndex(new TestModelOptions { Family = ModelFamily.StableDiffusionXL, Kind = options.Kind }) : distilled ? TestModelMaker.ModelIndex : Sd15StyleGraphs.ModelIndex);
    }

    /// <summary>The model's folder in the cache (<c>LCM_CACHE_DIR</c> unless given), written first if missing. Safe when several processes start at once.</summary>
    public static string EnsureCached(ArchitectureOptions options, string? cacheDirectory = null) =>
        new CacheEntries(cacheDirectory ?? CacheDirectory.Resolve(), NullLogger.Instance).GetOrCreate(options.CacheKey, folder => Write(folder, options));

    /// <summary>One graph folder: model.onnx with its Conv, Linear and embedding weights in model.onnx_data beside it, and config.json.</summary>
    internal static void WriteGraph(string directory, ArchitectureOptions options, object config, Action<NetworkLayers> writeGraph)
    {
        Directory.CreateDirectory(directory);
        var g = new GraphBuilder(Path.GetFileName(directory), options.Seed, options.Float16);
        using (var external = new ExternalDataFile(Path.Combine(directory, "model.onnx_data")))
            writeGraph(new NetworkLayers(g, external, options.Groups));
        g.Save(Path.Combine(directory, "model.onnx"));
        ModelJson.Write(Path.Combine(directory, "config.json"), config);
    }
}
