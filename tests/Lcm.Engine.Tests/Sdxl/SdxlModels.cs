using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;

namespace Lcm.Tests.Sdxl;

/// <summary>
/// Self-made SDXL-layout folders, each written on first use into one temporary directory, with a CPU
/// engine per folder; shared by one test class. Deleted on dispose.
/// </summary>
public sealed class SdxlModels : IDisposable
{
    private readonly Dictionary<TestModelOptions, (string Path, Lazy<LcmEngine> Engine)> _models = [];

    public string Root { get; } = Directory.CreateTempSubdirectory("lcm-sdxl-tests-").FullName;

    public static TestModelOptions Options(ModelKind kind, ExportEra era = ExportEra.Current) =>
        new() { Family = ModelFamily.StableDiffusionXL, Kind = kind, Era = era, VaeEncoder = era == ExportEra.Current ? VaeEncoderKind.LatentParameters : VaeEncoderKind.LatentSample };

    public string PathOf(TestModelOptions options) => Entry(options).Path;

    public LcmEngine Engine(TestModelOptions options) => Entry(options).Engine.Value;

    private (string Path, Lazy<LcmEngine> Engine) Entry(TestModelOptions options)
    {
        lock (_models)
        {
            if (_models.TryGetValue(options, out var entry)) return entry;
            string path = Path.Combine(Root, $"sdxl-{_models.Count}");
            TestModelMaker.Write(path, options);
            return _models[options] = (path, new Lazy<LcmEngine>(() => LcmEngine.Load(path, TestModels.Cpu)));
        }
    }

    public void Dispose()
    {
        foreach (var (_, engine) in _models.Values.Where(m => m.Engine.IsValueCreated)) engine.Value.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
