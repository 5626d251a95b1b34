using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using Lcm.Engine.Loaders;
using Microsoft.Extensions.Logging;
using Onnx;

namespace Lcm.Engine.Loaders.Lora;

/// <summary>The graphs an engine loads: the model's own, or LoRA-merged copies of the text encoders and UNet; <see cref="TextEncoder2"/> is SDXL's.</summary>
public sealed record GraphPaths(string TextEncoder, string Unet, string? TextEncoder2);

/// <summary>
/// Merges LoRA files into a model's UNet and text encoders and keeps the results in a cache folder,
/// keyed by the source graph, each LoRA file's content hash and scale, in order. A merged graph is
/// a copy of the source folder's graph in which only the patched weights differ: where the model keeps
/// its weights in external data, the graph file is copied as exported and the weights are patched by
/// byte range in a copy of the data file; in-graph weights are replaced in a rewritten graph. The
/// engine then loads the merged graph like any other (through the prepared-model cache when on).
/// </summary>
public sealed class MergedModels(string cacheDirectory, ILogger logger, long? maxBytes = null)
{
    private const int FormatVersion = 1;
    private readonly CacheEntries _entries = new(cacheDirectory, logger, maxBytes);

    public GraphPaths GetOrMerge(ModelFolder model, IReadOnlyList<LoraFile> loras) => WithOpened(model, loras, opened =>
    {
        var touched = Touched(opened);
        string loraKey = string.Join("|", opened.Select(l => $"{ContentHash(l.File.Path)}*{l.File.Scale.ToString("R", CultureInfo.InvariantCulture)}"));
        // A graph the folder lacks (text_encoder_2 of an SD 1.5 model) has no entry, so it goes to the matcher, which refuses it.
        var keys = touched.Where(c => Source(model, c) is not null).ToDictionary(c => c, c => EntryKey(Source(model, c)!, loraKey));
        var entries = keys.ToDictionary(k => k.Key, k => _entries.TryGet(k.Value));
        var missing = touched.Where(c => entries.GetValueOrDefault(c) is null).ToArray();
        if (missing.Length > 0)
        {
            // Every graph is matched before any is written: a LoRA that fits the UNet but not the text encoder merges nothing.
            var (graphs, patches) = Match(model, missing, opened);
            foreach (var component in missing)
                entries[component] = _entries.GetOrCreate(keys[component], folder => Write(Source(model, component)!, graphs[component], patches[component], folder));
        }
        string? PathOf(LoraComponent c) => entries.TryGetValue(c, out var entry) ? Path.Combine(entry!, Path.GetFileName(Source(model, c))!) : Source(model, c);
        return new GraphPaths(PathOf(LoraComponent.TextEncoder)!, PathOf(LoraComponent.Unet)!, PathOf(LoraComponent.TextEncoder2));
    });

    /// <summary>Matches LoRA files against the model without merging (<c>lcm info --lora</c>): what each would patch, or the mismatch.</summary>
    public static IReadOnlyList<LoraMatchReport> Check(ModelFolder model, IReadOnlyList<LoraFile> loras) => WithOpened(model, loras, opened =>
    {
        Match(model, Touched(opened), opened);
        return LoraMatcher.Report(opened);
    });

    private static T WithOpened<T>(ModelFolder model, IReadOnlyList<LoraFile> loras, Func<List<(LoraFile File, LoraWeights Weights)>, T> use)
    {
        var opened = new List<(LoraFile File, LoraWeights Weights)>();
        try
        {
            foreach (var lora in loras) opened.Add((lora, LoraWeights.Open(lora.Path, model.UnetLayersPerBlock)));
            return use(opened);
        }
        finally
        {
            opened.ForEach(l => l.Weights.Dispose());
        }
    }

    private static LoraComponent[] Touched(List<(LoraFile File, LoraWeights Weights)> opened) =>
        opened.SelectMany(l => l.Weights.Modules.Select(m => m.Component)).Distinct().ToArray();

    /// <summary>Named by the graph's folder ("unet-..."), so an entry and its prepared graph say what they are.</summary>
    private static string EntryKey(string source, string loraKey) =>
        $"{Path.GetFileName(Path.GetDirectoryName(source))}-{PreparedModelCache.Hash($"v{FormatVersion}|{PreparedModelCache.Fingerprint(source)}|{loraKey}")}";

    /// <summary>The model's graph a component patches; null for text_encoder_2 of an SD 1.5-class folder.</summary>
    private static string? Source(ModelFolder model, LoraComponent component) => component switch
    {
        LoraComponent.Unet => model.UnetPath,
        LoraComponent.TextEncoder => model.TextEncoderPath,
        _ => model.TextEncoder2Path,
    };

    private static (Dictionary<LoraComponent, ModelProto> Graphs, Dictionary<LoraComponent, List<WeightPatch>> Patches) Match(
        ModelFolder model, IReadOnlyList<LoraComponent> components, List<(LoraFile File, LoraWeights Weights)> opened)
    {
        var graphs = components.Where(c => Source(model, c) is not null).ToDictionary(c => c, c => ReadModel(Source(model, c)!));
        var patches = LoraMatcher.Match(components, graphs.ToDictionary(g => g.Key, g => (Source(model, g.Key)!, GraphWeights.Find(g.Value.Graph))), opened);
        return (graphs, patches);
    }

    /// <summary>SHA-256 of a LoRA file's bytes: a changed file is a new merge, whatever its name or time.</summary>
    public static string ContentHash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    private static ModelProto ReadModel(string path)
    {
        using var stream = File.OpenRead(path);
        try
        {
            return ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelFormatException($"'{path}' is not a readable ONNX model: {e.Message}", e);
        }
    }

    private void Write(string sourceGraph, ModelProto model, List<WeightPatch> patches, string folder)
    {
        var started = Stopwatch.StartNew();
        string sourceDirectory = Path.GetDirectoryName(sourceGraph)!;
        var external = model.Graph.Initializer.Select(t => InitializerData.External(t, sourceDirectory)).OfType<ExternalRange>().ToArray();
        foreach (string location in external.Select(e => e.Location).Distinct())
        {
            string copy = Path.Combine(folder, location);
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(Path.Combine(sourceDirectory, location), copy);
        }
        bool graphChanged = false;
        foreach (var patch in patches)
        {
            var target = patch.Target;
            float[] values = InitializerData.Read(target.Weight, sourceDirectory);
            foreach (var (lora, module, scale) in patch.Sources)
            {
                float factor = (float)scale * lora.AlphaOverRank(module);
                LoraDelta.AddTo(values, target.Layout, checked((int)target.Out), checked((int)target.In), checked((int)module.Rank),
                    lora.File.ReadFloats(module.Up), lora.File.ReadFloats(module.Down), factor);
            }
            byte[] bytes = InitializerData.Encode(target.Weight, values);
            if (InitializerData.External(target.Weight, sourceDirectory) is { } range)
            {
                using var handle = File.OpenHandle(Path.Combine(folder, range.Location), FileMode.Open, FileAccess.ReadWrite);
                RandomAccess.Write(handle, bytes, range.Offset);
            }
            else
            {
                InitializerData.SetRaw(target.Weight, bytes);
                graphChanged = true;
            }
        }
        string graph = Path.Combine(folder, Path.GetFileName(sourceGraph));
        if (graphChanged)
        {
            using var output = File.Create(graph);
            model.WriteTo(output);
        }
        else
            File.Copy(sourceGraph, graph);
        logger.LogInformation("Merged {Count} LoRA weights into {Source} in {Ms:F0} ms", patches.Count, sourceGraph, started.Elapsed.TotalMilliseconds);
    }
}
