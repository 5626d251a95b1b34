using Lcm.Engine.Loaders.Lora;
using Lcm.SyntheticModels;
using Onnx;

namespace Lcm.Tests.Lora;

/// <summary>
/// A temporary folder for LoRA tests, with models written once each (the SD 1.5-style ones float32
/// with external data and float16 with weights in the graph, and SDXL ones) and helpers to write
/// LoRAs and compute the merges they should give. Deleted on dispose.
/// </summary>
public sealed class LoraFixture : IDisposable
{
    private readonly Dictionary<TestModelOptions, Lazy<string>> _models = [];

    public string Root { get; } = Directory.CreateTempSubdirectory("lcm-lora-tests-").FullName;

    public string Model(bool float16) => Model(new TestModelOptions { Sd15Style = true, Float16 = float16 });

    /// <summary>The model of <paramref name="options"/>, written on first use.</summary>
    public string Model(TestModelOptions options)
    {
        Lazy<string> model;
        lock (_models)
        {
            if (!_models.TryGetValue(options, out model!))
                _models[options] = model = new(() => WriteModel("model", options));
        }
        return model.Value;
    }

    public string NewDirectory(string prefix) =>
        Directory.CreateDirectory(Path.Combine(Root, $"{prefix}-{Guid.NewGuid():N}")).FullName;

    /// <summary>An SD 1.5-style model whose weights already hold <paramref name="deltas"/>: what merging should give.</summary>
    public string PreMerged(bool float16, IReadOnlyDictionary<(LoraComponent, string), float[]> deltas) =>
        PreMerged(new TestModelOptions { Sd15Style = true, Float16 = float16 }, deltas);

    /// <summary>The model of <paramref name="options"/> with <paramref name="deltas"/> already in its weights.</summary>
    public string PreMerged(TestModelOptions options, IReadOnlyDictionary<(LoraComponent, string), float[]> deltas) =>
        WriteModel("premerged", options with { MergedDeltas = deltas });

    public (LoraFile File, IReadOnlyList<TestLoraModule> Modules) Lora(TestLoraOptions options, double scale = 1.0, string name = "style")
    {
        string path = Path.Combine(NewDirectory("lora"), $"{name}.safetensors");
        var modules = TestLoraMaker.Write(path, options);
        return (new LoraFile(name, path, scale), modules);
    }

    /// <summary>sum over LoRAs of scale * (alpha / rank) * up @ down, per module, computed in float64 independently of the merger.</summary>
    public static Dictionary<(LoraComponent, string), float[]> ExpectedDeltas(params (IReadOnlyList<TestLoraModule> Modules, double Scale)[] loras)
    {
        var sums = new Dictionary<(LoraComponent, string), double[]>();
        foreach (var (modules, scale) in loras)
        foreach (var module in modules)
        {
            var target = module.Target;
            int outputs = target.Out, inputs = (int)target.InputsPerOutput, rank = module.Up.Length / outputs;
            if (!sums.TryGetValue((target.Component, target.Path), out var sum)) sums[(target.Component, target.Path)] = sum = new double[outputs * inputs];
            for (int o = 0; o < outputs; o++)
            for (int i = 0; i < inputs; i++)
            for (int r = 0; r < rank; r++)
                sum[o * inputs + i] += scale * module.AlphaOverRank * module.Up[o * rank + r] * module.Down[r * inputs + i];
        }
        return sums.ToDictionary(s => s.Key, s => Array.ConvertAll(s.Value, v => (float)v));
    }

    /// <summary>Every float initializer of a graph, as float32, read the way ONNX Runtime would find it.</summary>
    public static Dictionary<string, float[]> Weights(string graphPath)
    {
        ModelProto model;
        using (var stream = File.OpenRead(graphPath)) model = ModelProto.Parser.ParseFrom(stream);
        return model.Graph.Initializer
            .Where(t => t.DataType is (int)TensorProto.Types.DataType.Float or (int)TensorProto.Types.DataType.Float16 && (t.RawData.Length > 0 || t.DataLocation == TensorProto.Types.DataLocation.External))
            .ToDictionary(t => t.Name, t => InitializerData.Read(t, Path.GetDirectoryName(graphPath)!));
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    private string WriteModel(string prefix, TestModelOptions options)
    {
        string path = NewDirectory(prefix);
        TestModelMaker.Write(path, options);
        return path;
    }
}
