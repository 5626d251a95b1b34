using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Model;

/// <summary>The prepared-model cache: entries are built once, shared, and never loaded when stale or damaged.</summary>
public sealed class PreparedModelCacheTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"lcm-prepared-{Guid.NewGuid():N}");
    private readonly string _model;
    private readonly string _cache;

    public PreparedModelCacheTests()
    {
        _model = Path.Combine(_root, "model");
        _cache = Path.Combine(_root, "cache");
        TestModelMaker.Write(_model, new TestModelOptions { UnetMegabytes = 40 });
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private EngineOptions Options => TestModels.Cpu with { PreparedCacheDirectory = _cache };

    private string UnetEntry() => Assert.Single(Directory.GetDirectories(_cache, "unet-*"));

    private static GenerationRequest Request => new() { Prompt = "a photo of a cat", Width = 64, Height = 64, Seed = 3, Steps = 2 };

    [Fact]
    public void A_prepared_model_is_written_once_then_loaded_with_its_weights_mapped_from_the_file()
    {
        GeneratedImage first, second;
        using (var engine = LcmEngine.Load(_model, Options)) first = engine.Generate(Request).Images[0];
        string entry = UnetEntry();
        string data = Path.Combine(entry, "model.onnx.data");
        Assert.True(new FileInfo(data).Length > 40L << 20, "the UNet's weights are in the prepared data file");
        var written = File.GetLastWriteTimeUtc(data);

        using (var engine = LcmEngine.Load(_model, Options))
        {
            second = engine.Generate(Request).Images[0];
            Assert.Equal(written, File.GetLastWriteTimeUtc(data));
            if (OperatingSystem.IsLinux())
                Assert.Contains(File.ReadLines("/proc/self/maps"), line => line.EndsWith(data, StringComparison.Ordinal));
        }
        Assert.Equal(first.Rgb, second.Rgb);
        Assert.Equal(entry, UnetEntry());

        // Prepared graphs give the unprepared model's image, up to the last bit of float rounding.
        using var plain = LcmEngine.Load(_model, TestModels.Cpu);
        Images.AssertSameImage(plain.Generate(Request).Images[0], first);
    }

    [Fact]
    public void A_changed_model_gets_a_new_entry()
    {
        using (LcmEngine.Load(_model, Options)) { }
        string before = UnetEntry();
        TestModelMaker.Write(_model, new TestModelOptions { UnetMegabytes = 40, Seed = 2 });
        using (LcmEngine.Load(_model, Options)) { }
        Assert.Equal(2, Directory.GetDirectories(_cache, "unet-*").Length);
        Assert.Contains(Directory.GetDirectories(_cache, "unet-*"), d => d != before);
    }

    [Fact]
    public void A_truncated_entry_is_rebuilt_not_loaded()
    {
        using (LcmEngine.Load(_model, Options)) { }
        string data = Path.Combine(UnetEntry(), "model.onnx.data");
        long length = new FileInfo(data).Length;
        using (var file = File.Open(data, FileMode.Open)) file.SetLength(length / 2);

        using var engine = LcmEngine.Load(_model, Options);
        Assert.Equal(length, new FileInfo(Path.Combine(UnetEntry(), "model.onnx.data")).Length);
        Assert.Single(engine.Generate(Request).Images);
    }

    [Fact]
    public void A_corrupt_graph_of_the_right_length_is_rebuilt_when_it_fails_to_load()
    {
        using (LcmEngine.Load(_model, Options)) { }
        string graph = Path.Combine(UnetEntry(), "model.onnx");
        File.WriteAllBytes(graph, new byte[new FileInfo(graph).Length]);

        using var engine = LcmEngine.Load(_model, Options);
        Assert.Single(engine.Generate(Request).Images);
        Assert.NotEqual(0, File.ReadAllBytes(Path.Combine(UnetEntry(), "model.onnx")).Max());
    }

    [Fact]
    public void A_manifest_for_another_key_or_a_missing_manifest_is_rebuilt()
    {
        using (LcmEngine.Load(_model, Options)) { }
        string manifest = Path.Combine(UnetEntry(), "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"Key\":\"unet-", "\"Key\":\"other-"));
        using (LcmEngine.Load(_model, Options)) { }
        Assert.DoesNotContain("other-", File.ReadAllText(Path.Combine(UnetEntry(), "manifest.json")));

        File.Delete(Path.Combine(UnetEntry(), "manifest.json"));
        using (LcmEngine.Load(_model, Options)) { }
        Assert.True(File.Exists(Path.Combine(UnetEntry(), "manifest.json")));
    }

    [Fact]
    public async Task Concurrent_prepares_leave_one_complete_entry()
    {
        var cache = new PreparedModelCache(_cache, NullLogger.Instance);
        string source = Path.Combine(_model, "unet", "model.onnx");
        var paths = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            cache.GetOrPrepare(source, "CPU-test", () => new Microsoft.ML.OnnxRuntime.SessionOptions()))));

        Assert.Single(paths.Distinct());
        Assert.Equal(UnetEntry(), Path.GetDirectoryName(paths[0]));
        Assert.DoesNotContain(Directory.GetDirectories(_cache), d => d.Contains(".tmp-") || d.Contains(".old-"));
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(paths[0]);
        Assert.Contains("timestep_cond", session.InputMetadata.Keys);
    }
}
