using Lcm.Engine.Loaders;
using Lcm.Engine.Memory;
using Lcm.Jobs;
using Lcm.SyntheticModels.Architectures;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Lcm.Tests.Memory;

/// <summary>
/// The attention split into query blocks (<see cref="AttentionSlicer"/>, LCM_ATTENTION_SLICING) on the SD 1.5
/// architecture's UNet at an eighth of its widths (same blocks, depths and head counts): what it rewrites,
/// that it computes the unsplit result, its setting and what the memory estimate makes of it.
/// </summary>
public sealed class AttentionSlicingTests(AttentionSlicingTests.NarrowUnet unet) : IClassFixture<AttentionSlicingTests.NarrowUnet>
{
    public sealed class NarrowUnet : IDisposable
    {
        public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("lcm-attention-").FullName;

        public NarrowUnet() => ArchitectureModelMaker.Write(Directory, new ArchitectureOptions { WidthDivisor = 8 });

        public string Graph => Path.Combine(Directory, "unet", "model.onnx");

        public ModelProto Parse()
        {
            using var stream = File.OpenRead(Graph);
            return ModelProto.Parser.ParseFrom(stream);
        }

        public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
    }

    [Fact]
    public void Every_attention_of_the_sd15_unet_becomes_a_loop_over_query_blocks()
    {
        var model = unet.Parse();
        // 16 transformer blocks (2 + 2 + 2 down, 1 mid, 3 + 3 + 3 up), each with self- and cross-attention; the
        // widest level's 5 blocks (down_blocks.0, up_blocks.3) among them.
        Assert.Equal(32, model.Graph.Node.Count(n => n.OpType == "Softmax"));
        var rewritten = AttentionSlicer.Rewrite(model, blockTokens: 48);
        Assert.Equal(32, rewritten.Count);
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "Softmax");
        var loops = model.Graph.Node.Where(n => n.OpType == "Loop").ToList();
        Assert.Equal(32, loops.Count);
        Assert.All(loops, loop => Assert.Single(loop.Attribute.Single(a => a.Name == "body").G.Node, n => n.OpType == "Softmax"));
    }

    [Fact]
    public void The_split_unet_gives_the_unsplit_output_within_float_rounding()
    {
        // 128x128 pixels: 256 tokens at the widest level, in blocks of 48 (five and a remainder of 16); 64 at the next, in two.
        var model = unet.Parse();
        AttentionSlicer.Rewrite(model, blockTokens: 48);
        // Beside the source, so the external weights resolve.
        string split = Path.Combine(unet.Directory, "unet", "split.onnx");
        using (var file = File.Create(split)) Google.Protobuf.MessageExtensions.WriteTo(model, file);

        float[] expected = RunUnet(unet.Graph), actual = RunUnet(split);
        double scale = expected.Max(v => Math.Abs((double)v));
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
        Assert.True(scale > 0.01, $"output scale {scale}");
        Assert.True(maxDiff < 1e-4 * scale, $"max abs diff {maxDiff} over an output scale of {scale}");
    }

    [Fact]
    public void An_engine_loads_the_split_unet_through_the_prepared_cache_counts_its_block_and_one_block_gives_the_unsplit_image()
    {
        string cache = Directory.CreateTempSubdirectory("lcm-attention-cache-").FullName;
        try
        {
            var options = Lcm.Tests.Generation.TestModels.Cpu with
            {
                AttentionSlicing = AttentionSlicingMode.Always, SlicedModelDirectory = Path.Combine(cache, "attention"), PreparedCacheDirectory = Path.Combine(cache, "prepared"),
            };
            using var engine = Lcm.Engine.Pipelines.LcmEngine.Load(unet.Directory, options);
            Assert.Equal(AttentionSlicer.AlwaysBlockTokens, engine.Capabilities.Memory.Estimate.AttentionBlockTokens);
            Assert.Single(Directory.GetFiles(Path.Combine(cache, "attention"), "model.onnx", SearchOption.AllDirectories));
            var request = new Lcm.Engine.Pipelines.GenerationRequest { Prompt = "a lighthouse", Width = 64, Height = 64, Steps = 1, Seed = 1 };
            // 64 tokens at the widest level, one block: the unsplit computation, to the byte.
            using var unsplit = Lcm.Engine.Pipelines.LcmEngine.Load(unet.Directory, Lcm.Tests.Generation.TestModels.Cpu);
            Assert.Equal(unsplit.Generate(request).Images[0].Rgb, engine.Generate(request).Images[0].Rgb);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void The_setting_reads_auto_always_or_off_and_refuses_anything_else()
    {
        Assert.Equal(AttentionSlicingMode.Auto, EngineSettings.ReadEngine(_ => null).AttentionSlicing);
        Assert.EndsWith("attention", EngineSettings.ReadEngine(_ => null).SlicedModelDirectory);
        Assert.Equal(AttentionSlicingMode.Always, EngineSettings.ReadEngine(n => n == "LCM_ATTENTION_SLICING" ? "Always" : null).AttentionSlicing);
        Assert.Equal(AttentionSlicingMode.Off, EngineSettings.ReadEngine(n => n == "LCM_ATTENTION_SLICING" ? "off" : null).AttentionSlicing);
        var error = Assert.Throws<ArgumentException>(() => EngineSettings.ReadEngine(n => n == "LCM_ATTENTION_SLICING" ? "sometimes" : null));
        Assert.Contains("LCM_ATTENTION_SLICING", error.Message);
        Assert.Contains("sometimes", error.Message);
    }

    [Fact]
    public void The_estimate_counts_one_block_so_a_size_refused_unsplit_is_accepted()
    {
        string folder = Directory.CreateTempSubdirectory("lcm-attention-config-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "unet"));
            File.WriteAllText(Path.Combine(folder, "unet", "config.json"),
                """{"block_out_channels":[320,640,1280,1280],"attention_head_dim":8,"down_block_types":["CrossAttnDownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D","DownBlock2D"]}""");
            var unsplit = RunMemoryEstimate.For(folder, 4);
            var split = RunMemoryEstimate.For(folder, 4, AttentionSlicer.BlockTokens(AttentionSlicingMode.Auto));
            // SD 1.5 at 1024x1024 in float32: 16384 tokens, the full matrix 8 GiB with softmax's output beside it.
            var budget = 6L << 30;
            Assert.False(new MemoryBudget(unsplit, budget, "test").Fits(1024, 1024, 1));
            Assert.True(new MemoryBudget(split, budget, "test").Fits(1024, 1024, 1));
            // At 512 (4096 tokens, one block) the split changes nothing; far too large a size is still refused.
            Assert.Equal(unsplit.PeakBytes(512, 512, 1), split.PeakBytes(512, 512, 1));
            Assert.False(new MemoryBudget(split, budget, "test").Fits(2048, 2048, 1));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>One UNet step on a 16x16 latent, the same seeded inputs every time.</summary>
    private static float[] RunUnet(string path)
    {
        using var session = new InferenceSession(path);
        var random = new Random(3);
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            foreach (var (name, metadata) in session.InputMetadata)
            {
                long[] shape = metadata.Dimensions.Select((d, i) => d > 0 ? d : name == "sample" && i >= 2 ? 16L : 1L).ToArray();
                long size = shape.Aggregate(1L, (a, b) => a * b);
                inputs[name] = metadata.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(500L, (int)size).ToArray(), shape)
                    : OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, (int)size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), shape);
            }
            using var results = session.Run(new RunOptions(), inputs.Keys.ToArray(), inputs.Values.ToArray(), ["out_sample"]);
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (var value in inputs.Values) value.Dispose();
        }
    }
}
