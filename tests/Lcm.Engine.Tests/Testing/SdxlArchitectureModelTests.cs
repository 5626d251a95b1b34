using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels.Architectures;
using Lcm.Tests.Generation;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Lcm.Tests.Testing;

/// <summary>
/// The SDXL architecture model: parameter counts worked out from the diffusers and transformers configs
/// against the published full sizes and against the graphs at an eighth of the width, the export's
/// signatures, and a run through the engine. The full-size model (13 GB in float32) is too large for the suite.
/// </summary>
public sealed class SdxlArchitectureModelTests(SdxlArchitectureModelTests.NarrowModel model) : IClassFixture<SdxlArchitectureModelTests.NarrowModel>
{
    private const int Divisor = 8;

    /// <summary>The distilled SDXL architecture (lcm-sdxl's UNet) at an eighth of its widths, written once for the class.</summary>
    public sealed class NarrowModel() : NarrowArchitectureModel(ModelArchitecture.Sdxl, Divisor);

    [Fact]
    public void Counts_worked_out_from_the_configs_are_the_published_full_sizes()
    {
        Assert.Equal(2_567_463_684, SdxlCounts.Unet(1, distilled: false)); // stabilityai/stable-diffusion-xl-base-1.0's UNet
        Assert.Equal(2_567_463_684 + 256 * 320, SdxlCounts.Unet(1, distilled: true)); // plus latent-consistency/lcm-sdxl's cond_proj
        Assert.Equal(123_060_480, SdxlCounts.ClipText(1, 768, 12, projection: false)); // text_encoder: CLIP-L
        Assert.Equal(694_659_840, SdxlCounts.ClipText(1, 1280, 32, projection: true)); // text_encoder_2: OpenCLIP bigG with its projection
    }

    [Fact]
    public void Graphs_have_the_parameters_of_the_configs()
    {
        Assert.Equal(SdxlCounts.Unet(Divisor, distilled: true), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(model.Path("unet"))));
        Assert.Equal(SdxlCounts.ClipText(Divisor, 768, 12, projection: false), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(model.Path("text_encoder"))));
        Assert.Equal(SdxlCounts.ClipText(Divisor, 1280, 32, projection: true), ArchitectureGraphs.Parameters(ArchitectureGraphs.Graph(model.Path("text_encoder_2"))));
    }

    [Fact]
    public void Graphs_have_the_inputs_and_outputs_of_sdxl_exports_in_their_order()
    {
        ArchitectureGraphs.AssertSignature(model.Path("text_encoder"), [("input_ids", DataType.Int64, "batch,77")],
            [("last_hidden_state", DataType.Float, "batch,77,96"), ("pooler_output", DataType.Float, "batch,96"),
             .. Enumerable.Range(0, 13).Select(i => ($"hidden_states.{i}", DataType.Float, "batch,77,96"))]);
        ArchitectureGraphs.AssertSignature(model.Path("text_encoder_2"), [("input_ids", DataType.Int64, "batch,77")],
            [("text_embeds", DataType.Float, "batch,160"), ("last_hidden_state", DataType.Float, "batch,77,160"),
             .. Enumerable.Range(0, 33).Select(i => ($"hidden_states.{i}", DataType.Float, "batch,77,160"))]);
        ArchitectureGraphs.AssertSignature(model.Path("unet"),
            [("sample", DataType.Float, "batch,4,height,width"), ("timestep", DataType.Int64, "1"),
             ("encoder_hidden_states", DataType.Float, "batch,77,256"), ("text_embeds", DataType.Float, "batch,160"),
             ("time_ids", DataType.Float, "batch,6"), ("timestep_cond", DataType.Float, "batch,256")],
            [("out_sample", DataType.Float, "batch,4,height,width")]);
    }

    [Fact]
    public void Transformers_project_with_linear_layers_and_stack_as_deep_as_sdxl()
    {
        var initializers = ArchitectureGraphs.Graph(model.Path("unet")).Initializer.Select(t => t.Name).ToHashSet();
        Assert.DoesNotContain("down_blocks.1.attentions.0.proj_in.weight", initializers); // a Linear, not a 1x1 conv
        Assert.Contains("down_blocks.2.attentions.1.transformer_blocks.9.norm3.weight", initializers);
        Assert.DoesNotContain("down_blocks.2.attentions.1.transformer_blocks.10.norm3.weight", initializers);
        Assert.Contains("mid_block.attentions.0.transformer_blocks.9.norm1.weight", initializers);
        Assert.DoesNotContain(initializers, name => name.StartsWith("down_blocks.0.attentions", StringComparison.Ordinal));
        Assert.Contains("add_embedding.linear_1.weight", initializers);
    }

    [Fact]
    public void Engine_reads_it_as_sdxl_and_generates_through_the_whole_structure()
    {
        using var engine = LcmEngine.Load(model.Directory, TestModels.Cpu);
        Assert.Equal((ModelFamily.StableDiffusionXL, ModelKind.Distilled), (engine.Capabilities.Family, engine.Kind));
        Assert.Equal(1024, engine.Capabilities.DefaultWidth);

        var result = engine.Generate(new GenerationRequest { Prompt = "a photo of a cat", Width = 64, Height = 64, Steps = 2, Seed = 5 });

        var image = Assert.Single(result.Images);
        Assert.Equal((64, 64), (image.Width, image.Height));
        Assert.True(image.Rgb.Distinct().Count() > 10, "a flat image means a broken stage");
    }

    /// <summary>
    /// Parameter counts from the configs alone, layer by layer as diffusers and transformers define them
    /// (SDXL's UNet2DConditionModel with linear projections and text_time embedding; CLIPTextModel and
    /// CLIPTextModelWithProjection), at widths divided by a divisor.
    /// </summary>
    private static class SdxlCounts
    {
        private static long Conv(long i, long o, long k) => i * o * k * k + o;
        private static long Linear(long i, long o, bool bias = true) => i * o + (bias ? o : 0);
        private static long Norm(long c) => 2 * c;

        private static long Resnet(long i, long o, long time) =>
            Norm(i) + Conv(i, o, 3) + Linear(time, o) + Norm(o) + Conv(o, o, 3) + (i != o ? Conv(i, o, 1) : 0);

        // GroupNorm, proj_in and proj_out (Linear), and per block three LayerNorms, attn1, attn2 on the text, GEGLU.
        private static long Transformer(long c, long text, int depth) =>
            Norm(c) + 2 * Linear(c, c) + depth * (3 * Norm(c) + 3 * c * c + Linear(c, c) + c * c + 2 * text * c + Linear(c, c) + Linear(c, 8 * c) + Linear(4 * c, c));

        public static long Unet(int d, bool distilled)
        {
            long[] channels = [320 / d, 640 / d, 1280 / d];
            int[] depth = [0, 2, 10];
            long time = 4 * channels[0], text = 2048 / d, pooled = 1280 / d;
            long n = Conv(4, channels[0], 3) + Linear(channels[0], time) + Linear(time, time) + (distilled ? 256 * channels[0] : 0)
                + Linear(6 * 256 + pooled, time) + Linear(time, time);
            long previous = channels[0];
            for (int b = 0; b < 3; b++)
            {
                for (int l = 0; l < 2; l++, previous = channels[b])
                    n += Resnet(previous, channels[b], time) + (depth[b] > 0 ? Transformer(channels[b], text, depth[b]) : 0);
                if (b < 2) n += Conv(channels[b], channels[b], 3);
            }
            n += 2 * Resnet(channels[2], channels[2], time) + Transformer(channels[2], text, 10);
            long[] reversed = [.. channels.Reverse()];
            int[] reversedDepth = [.. depth.Reverse()];
            previous = reversed[0];
            for (int b = 0; b < 3; b++)
            {
                long output = reversed[b], input = reversed[Math.Min(b + 1, 2)];
                for (int l = 0; l < 3; l++)
                    n += Resnet((l == 0 ? previous : output) + (l == 2 ? input : output), output, time) + (reversedDepth[b] > 0 ? Transformer(output, text, reversedDepth[b]) : 0);
                if (b < 2) n += Conv(output, output, 3);
                previous = output;
            }
            return n + Norm(channels[0]) + Conv(channels[0], 4, 3);
        }

        public static long ClipText(int d, int hidden, int layers, bool projection)
        {
            long w = hidden / d;
            long layer = 2 * Norm(w) + 4 * Linear(w, w) + Linear(w, 4 * w) + Linear(4 * w, w);
            return 49408 * w + 77 * w + layers * layer + Norm(w) + (projection ? w * w : 0);
        }
    }
}
