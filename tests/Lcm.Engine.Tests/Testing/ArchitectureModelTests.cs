using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;
using Lcm.SyntheticModels.Architectures;
using Lcm.Tests.Generation;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Lcm.Tests.Testing;

/// <summary>
/// The architecture models: their structure against parameter counts worked out here from the diffusers and
/// transformers configs, and, at an eighth of the width (same blocks and depths), a run through the engine.
/// The full-size model (3.4 GB) is too large for the test suite.
/// </summary>
public sealed class ArchitectureModelTests(ArchitectureModelTests.NarrowModel model) : IClassFixture<ArchitectureModelTests.NarrowModel>
{
    private const int Divisor = 8;

    /// <summary>The distilled SD 1.5 architecture at an eighth of its widths, written once for the class.</summary>
    public sealed class NarrowModel() : NarrowArchitectureModel(ModelArchitecture.Sd15, Divisor);

    [Fact]
    public void Counts_worked_out_from_the_configs_are_the_published_full_sizes()
    {
        Assert.Equal(859_520_964, Sd15Counts.Unet(1, distilled: false)); // runwayml/stable-diffusion-v1-5's UNet
        Assert.Equal(859_520_964 + 256 * 320, Sd15Counts.Unet(1, distilled: true)); // plus LCM_Dreamshaper_v7's cond_proj
        Assert.Equal(123_060_480, Sd15Counts.ClipText(1)); // openai/clip-vit-large-patch14's text model
        Assert.Equal(83_653_863, Sd15Counts.VaeDecoder(1) + Sd15Counts.VaeEncoder(1)); // the whole AutoencoderKL
        Assert.Equal(49_490_199, Sd15Counts.VaeDecoder(1));
    }

    [Fact]
    public void Graphs_have_the_parameters_of_the_configs()
    {
        Assert.Equal(Sd15Counts.Unet(Divisor, distilled: true), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(model.Path("unet"))));
        Assert.Equal(Sd15Counts.ClipText(Divisor), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(model.Path("text_encoder"))));
        Assert.Equal(Sd15Counts.VaeDecoder(Divisor), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(model.Path("vae_decoder"))));
        Assert.Equal(Sd15Counts.VaeEncoder(Divisor), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(model.Path("vae_encoder"))));
    }

    [Fact]
    public void Graphs_have_the_inputs_and_outputs_of_the_test_models()
    {
        ArchitectureGraphs.AssertSignature(model.Path("text_encoder"), [("input_ids", DataType.Int32, "batch,77")],
            [("last_hidden_state", DataType.Float, "batch,77,96"), ("pooler_output", DataType.Float, "batch,96")]);
        ArchitectureGraphs.AssertSignature(model.Path("unet"),
            [("sample", DataType.Float, "batch,4,height,width"), ("timestep", DataType.Int64, "1"),
             ("encoder_hidden_states", DataType.Float, "batch,77,96"), ("timestep_cond", DataType.Float, "batch,256")],
            [("out_sample", DataType.Float, "batch,4,height,width")]);
        ArchitectureGraphs.AssertSignature(model.Path("vae_decoder"), [("latent_sample", DataType.Float, "batch,4,latent_height,latent_width")],
            [("sample", DataType.Float, "batch,3,height,width")]);
        ArchitectureGraphs.AssertSignature(model.Path("vae_encoder"), [("sample", DataType.Float, "batch,3,height,width")],
            [("latent_sample", DataType.Float, "batch,4,latent_height,latent_width")]);
    }

    [Fact]
    public void Lcm_lora_float16_variant_has_no_timestep_cond_and_float16_edges()
    {
        string directory = Directory.CreateTempSubdirectory("lcm-architecture-fp16-").FullName;
        try
        {
            ArchitectureModelMaker.Write(directory, new ArchitectureOptions
            {
                Kind = ModelKind.LcmLora, Float16 = true, VaeEncoder = VaeEncoderKind.LatentParameters, WidthDivisor = Divisor,
            });
            string Path(string graph) => System.IO.Path.Combine(directory, graph, "model.onnx");
            ArchitectureGraphs.AssertSignature(Path("unet"),
                [("sample", DataType.Float16, "batch,4,height,width"), ("timestep", DataType.Float, ""),
                 ("encoder_hidden_states", DataType.Float16, "batch,77,96")],
                [("out_sample", DataType.Float16, "batch,4,height,width")]);
            ArchitectureGraphs.AssertSignature(Path("vae_encoder"), [("sample", DataType.Float16, "batch,3,height,width")],
                [("latent_parameters", DataType.Float16, "batch,8,latent_height,latent_width")]);
            Assert.Equal(Sd15Counts.Unet(Divisor, distilled: false), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(Path("unet"))));
            Assert.DoesNotContain(ArchitectureGraphs.Graph(Path("unet")).Initializer, t => t.DataType == (int)DataType.Float && t.Dims.Count > 0);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Weights_are_external_and_named_as_exports_name_them()
    {
        var unet = ArchitectureGraphs.Graph(model.Path("unet"));
        var initializers = unet.Initializer.ToDictionary(t => t.Name);
        Assert.Equal([40, 40, 3, 3], initializers["down_blocks.0.resnets.0.conv1.weight"].Dims);
        Assert.Equal([160, 160, 1, 1], initializers["up_blocks.1.attentions.2.proj_out.weight"].Dims);
        Assert.Equal(TensorProto.Types.DataLocation.External, initializers["mid_block.resnets.1.conv2.weight"].DataLocation);
        Assert.Contains(unet.Node, n => n.Name == "/down_blocks.0/resnets.0/conv1/Conv");

        // The LoRA merge finds every Linear and Conv by its node's scope: each attention projection, as an SD 1.5 LoRA targets them.
        var targets = GraphWeights.Find(unet);
        Assert.Empty(targets.Problems);
        Assert.Equal(WeightLayout.InOut, targets.Targets["down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"].Layout);
        Assert.Equal(96, targets.Targets["down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"].In);
        // 16 transformers of 10 Linear modules (attn1 and attn2 q, k, v, out; ff in and out) and 2 1x1 convs.
        Assert.Equal(16 * 12, targets.Targets.Keys.Count(k => k.Contains("_attentions_", StringComparison.Ordinal)));
        Assert.Contains("text_model_encoder_layers_11_self_attn_q_proj", GraphWeights.Find(ArchitectureGraphs.Graph(model.Path("text_encoder"))).Targets.Keys);
    }

    [Fact]
    public void Unet_output_is_finite_and_latent_shaped()
    {
        using var unet = new InferenceSession(model.Path("unet"));
        var random = new Random(3);
        float[] Normal(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        using var sample = OrtValue.CreateTensorValueFromMemory(Normal(2 * 4 * 8 * 8), [2, 4, 8, 8]);
        using var timestep = OrtValue.CreateTensorValueFromMemory(new long[] { 999 }, [1]);
        using var text = OrtValue.CreateTensorValueFromMemory(Normal(2 * 77 * 96), [2, 77, 96]);
        using var cond = OrtValue.CreateTensorValueFromMemory(Normal(2 * 256), [2, 256]);
        using var outputs = unet.Run(new RunOptions(), ["sample", "timestep", "encoder_hidden_states", "timestep_cond"], [sample, timestep, text, cond], ["out_sample"]);

        Assert.Equal([2, 4, 8, 8], outputs[0].GetTensorTypeAndShape().Shape);
        var values = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.All(values, v => Assert.True(float.IsFinite(v), $"value {v}"));
        Assert.True(values.Max() - values.Min() > 0.1f, "a constant output means a broken stage");
    }

    [Fact]
    public void Engine_generates_through_the_whole_structure()
    {
        using var engine = LcmEngine.Load(model.Directory, TestModels.Cpu);
        Assert.Equal(ModelKind.Distilled, engine.Kind);

        var result = engine.Generate(new GenerationRequest { Prompt = "a photo of a cat", Width = 64, Height = 64, Steps = 2, Seed = 5 });

        var image = Assert.Single(result.Images);
        Assert.Equal((64, 64), (image.Width, image.Height));
        Assert.Equal(2, result.Timings.UnetStepMs.Count);
        Assert.True(image.Rgb.Distinct().Count() > 10, "a flat image means a broken stage");
    }

    [Fact]
    public void Cache_writes_a_model_once_per_key()
    {
        string cache = Directory.CreateTempSubdirectory("lcm-architecture-cache-").FullName;
        try
        {
            var options = new ArchitectureOptions { Seed = 7, WidthDivisor = Divisor };
            string first = ArchitectureModelMaker.EnsureCached(options, cache);
            var written = File.GetLastWriteTimeUtc(Path.Combine(first, "unet", "model.onnx_data"));

            Assert.Equal(first, ArchitectureModelMaker.EnsureCached(options, cache));
            Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(first, "unet", "model.onnx_data")));
            Assert.Equal(options.CacheKey, Path.GetFileName(first));
            Assert.NotEqual(options.CacheKey, (options with { Float16 = true }).CacheKey);
            Assert.NotEqual(options.CacheKey, (options with { Seed = 8 }).CacheKey);
            Assert.NotEqual(options.CacheKey, (options with { Kind = ModelKind.LcmLora }).CacheKey);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    /// <summary>
    /// Parameter counts from the configs alone, layer by layer as diffusers and transformers define them
    /// (SD 1.5's UNet2DConditionModel, CLIP-L's CLIPTextModel, AutoencoderKL), at widths divided by a divisor.
    /// </summary>
    private static class Sd15Counts
    {
        private static long Conv(long i, long o, long k) => i * o * k * k + o;
        private static long Linear(long i, long o, bool bias = true) => i * o + (bias ? o : 0);
        private static long Norm(long c) => 2 * c;

        private static long Resnet(long i, long o, long time = 0) =>
            Norm(i) + Conv(i, o, 3) + (time > 0 ? Linear(time, o) : 0) + Norm(o) + Conv(o, o, 3) + (i != o ? Conv(i, o, 1) : 0);

        // GroupNorm, proj_in and proj_out, three LayerNorms, attn1 (q, k, v without bias), attn2 (k, v from the text), GEGLU.
        private static long Transformer(long c, long text) =>
            Norm(c) + 2 * Conv(c, c, 1) + 3 * Norm(c) + 3 * c * c + Linear(c, c) + c * c + 2 * text * c + Linear(c, c) + Linear(c, 8 * c) + Linear(4 * c, c);

        public static long Unet(int d, bool distilled)
        {
            long[] channels = [320 / d, 640 / d, 1280 / d, 1280 / d];
            long time = 4 * channels[0], text = 768 / d;
            long n = Conv(4, channels[0], 3) + Linear(channels[0], time) + Linear(time, time) + (distilled ? 256 * channels[0] : 0);
            long previous = channels[0];
            for (int b = 0; b < 4; b++)
            {
                for (int l = 0; l < 2; l++, previous = channels[b])
                    n += Resnet(previous, channels[b], time) + (b < 3 ? Transformer(channels[b], text) : 0);
                if (b < 3) n += Conv(channels[b], channels[b], 3);
            }
            n += 2 * Resnet(channels[3], channels[3], time) + Transformer(channels[3], text);
            long[] reversed = [.. channels.Reverse()];
            previous = reversed[0];
            for (int b = 0; b < 4; b++)
            {
                // diffusers' up block channels: the last resnet's skip comes from the next-lower level.
                long output = reversed[b], input = reversed[Math.Min(b + 1, 3)];
                for (int l = 0; l < 3; l++)
                    n += Resnet((l == 0 ? previous : output) + (l == 2 ? input : output), output, time) + (b > 0 ? Transformer(output, text) : 0);
                if (b < 3) n += Conv(output, output, 3);
                previous = output;
            }
            return n + Norm(channels[0]) + Conv(channels[0], 4, 3);
        }

        public static long ClipText(int d)
        {
            long w = 768 / d;
            long layer = 2 * Norm(w) + 4 * Linear(w, w) + Linear(w, 4 * w) + Linear(4 * w, w);
            return 49408 * w + 77 * w + 12 * layer + Norm(w);
        }

        // Resnets without a time embedding; attention is a GroupNorm and four Linear layers with biases.
        private static long MidBlock(long c) => 2 * Resnet(c, c) + Norm(c) + 4 * Linear(c, c);

        public static long VaeDecoder(int d)
        {
            long[] reversed = [512 / d, 512 / d, 256 / d, 128 / d];
            long n = Conv(4, 4, 1) + Conv(4, reversed[0], 3) + MidBlock(reversed[0]);
            long previous = reversed[0];
            for (int b = 0; b < 4; b++)
            {
                for (int l = 0; l < 3; l++, previous = reversed[b]) n += Resnet(previous, reversed[b]);
                if (b < 3) n += Conv(reversed[b], reversed[b], 3);
            }
            return n + Norm(reversed[3]) + Conv(reversed[3], 3, 3);
        }

        public static long VaeEncoder(int d)
        {
            long[] channels = [128 / d, 256 / d, 512 / d, 512 / d];
            long n = Conv(3, channels[0], 3);
            long previous = channels[0];
            for (int b = 0; b < 4; b++)
            {
                for (int l = 0; l < 2; l++, previous = channels[b]) n += Resnet(previous, channels[b]);
                if (b < 3) n += Conv(channels[b], channels[b], 3);
            }
            return n + MidBlock(channels[3]) + Norm(channels[3]) + Conv(channels[3], 8, 3) + Conv(8, 8, 1);
        }
    }
}

/// <summary>An architecture model at a fraction of its widths in a temporary folder, written once for a test class.</summary>
public abstract class NarrowArchitectureModel : IDisposable
{
    protected NarrowArchitectureModel(ModelArchitecture architecture, int divisor) =>
        ArchitectureModelMaker.Write(Directory, new ArchitectureOptions { Architecture = architecture, WidthDivisor = divisor });

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("lcm-architecture-").FullName;

    public string Path(string graph) => System.IO.Path.Combine(Directory, graph, "model.onnx");

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>Reading the architecture models' graphs: parameters and signatures.</summary>
internal static class ArchitectureGraphs
{
    public static GraphProto Graph(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream).Graph;
    }

    /// <summary>Elements of the float initializers of rank one or more: the models' constants are Constant nodes or scalars.</summary>
    public static long Parameters(GraphProto graph) => graph.Initializer
        .Where(t => t.DataType is (int)DataType.Float or (int)DataType.Float16 && t.Dims.Count > 0)
        .Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b));

    public static void AssertSignature(string path, (string, DataType, string)[] inputs, (string, DataType, string)[] outputs)
    {
        var graph = Graph(path);
        static (string, DataType, string)[] Describe(IEnumerable<ValueInfoProto> values) => values.Select(v => (v.Name, (DataType)v.Type.TensorType.ElemType,
            string.Join(',', v.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString())))).ToArray();
        Assert.Equal(inputs, Describe(graph.Input));
        Assert.Equal(outputs, Describe(graph.Output));
    }
}
