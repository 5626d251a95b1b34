using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using Onnx;

namespace Lcm.Tests.Model;

/// <summary>The opt-in int8 UNet (LCM_INT8): which nodes it rewrites, that it runs, how far it moves the result, and its cache.</summary>
public sealed class Int8QuantizationTests(TestModels models) : IClassFixture<TestModels>
{
    private static readonly GenerationRequest Request = new() { Prompt = "a lighthouse at dusk", Width = 64, Height = 64, Steps = 3, Seed = 5 };

    [Fact]
    public void Large_matmul_weights_become_int8_dynamic_quantize_matmuls_whose_error_is_small_but_real()
    {
        // 40 MB of UNet weights: in unet/model.onnx_data, as real exports keep theirs.
        string model = models.NewDirectory("int8-source");
        TestModelMaker.Write(model, new TestModelOptions { UnetMegabytes = 40 });
        string cache = models.NewDirectory("int8-cache");
        using var float32 = LcmEngine.Load(model, TestModels.Cpu);
        using var int8 = LcmEngine.Load(model, TestModels.Cpu with { Int8 = true, QuantizedModelDirectory = cache });

        var source = Parse(Path.Combine(model, "unet", "model.onnx"));
        var sourceInitializers = source.Graph.Initializer.ToDictionary(t => t.Name);
        var large = source.Graph.Node.Where(n => n.OpType == "MatMul" && sourceInitializers.TryGetValue(n.Input[1], out var w) && w.Dims.Aggregate(1L, (a, b) => a * b) >= 64 * 64).ToList();
        Assert.NotEmpty(large);
        string quantizedPath = Assert.Single(Directory.GetFiles(cache, "model.onnx", SearchOption.AllDirectories));
        var quantized = Parse(quantizedPath);
        var rewritten = quantized.Graph.Node.Where(n => n.OpType == "DynamicQuantizeMatMul").ToList();
        Assert.Equal(large.Select(n => n.Name), rewritten.Select(n => n.Name));
        Assert.All(rewritten, n => Assert.Equal("com.microsoft", n.Domain));
        var initializers = quantized.Graph.Initializer.ToDictionary(t => t.Name);
        Assert.All(rewritten, n => Assert.Equal((int)TensorProto.Types.DataType.Int8, initializers[n.Input[1]].DataType));
        // The float copies are gone, and every external weight's file is beside the quantised graph.
        Assert.All(large, n => Assert.DoesNotContain(n.Input[1], initializers.Keys));
        var locations = quantized.Graph.Initializer.SelectMany(t => t.ExternalData).Where(e => e.Key == "location").Select(e => e.Value).Distinct().ToList();
        Assert.Contains("model.int8.data", locations);
        Assert.All(locations, location => Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(quantizedPath)!, location)), location));

        float[] reference = FinalLatents(float32), approximate = FinalLatents(int8);
        double error = Math.Sqrt(reference.Zip(approximate, (r, a) => (double)(a - r) * (a - r)).Sum() / reference.Sum(r => (double)r * r));
        Assert.InRange(error, 1e-7, 1e-2);
        var (a, b) = (float32.Generate(Request).Images[0].Rgb, int8.Generate(Request).Images[0].Rgb);
        Assert.InRange(a.Zip(b, (x, y) => Math.Abs(x - y)).Average(), 0, 1.0);

        // A second load finds the quantised graph in the cache instead of writing it again.
        var written = File.GetLastWriteTimeUtc(quantizedPath);
        using (LcmEngine.Load(model, TestModels.Cpu with { Int8 = true, QuantizedModelDirectory = cache })) { }
        Assert.Equal(written, File.GetLastWriteTimeUtc(quantizedPath));
    }

    [Fact]
    public void A_float16_unet_has_nothing_to_quantise_and_runs_as_it_is()
    {
        string cache = models.NewDirectory("int8-fp16-cache");
        using var engine = LcmEngine.Load(models.Fp16Path, TestModels.Cpu with { Int8 = true, QuantizedModelDirectory = cache });
        Assert.Equal(models.Engine(float16: true).Generate(Request).Images[0].Rgb, engine.Generate(Request).Images[0].Rgb);
        Assert.Empty(Directory.GetFiles(cache, "model.onnx", SearchOption.AllDirectories));
    }

    private static float[] FinalLatents(LcmEngine engine)
    {
        float[]? last = null;
        engine.Generate(Request with { Preview = new SynchronousProgress<LatentPreview>(p => last = p.Latents.ToArray()) });
        return last!;
    }

    private static ModelProto Parse(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }
}
