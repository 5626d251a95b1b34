using Lcm.Engine.Models;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>
/// Stable Diffusion 1.5's <c>UNet2DConditionModel</c> at its real size (about 860M parameters): three
/// CrossAttnDownBlock2D and a DownBlock2D, the mid block, an UpBlock2D and three CrossAttnUpBlock2D,
/// two resnets per down block and three per up block, 8 heads, cross-attention on 768-wide text, and
/// for the distilled kind LCM_Dreamshaper_v7's <c>cond_proj</c> of <c>timestep_cond</c>. The inputs and
/// output are those of the SD 1.5 test UNets, so the engine runs it as it runs a real export.
/// </summary>
internal static class Sd15UnetArchitecture
{
    private static readonly int[] BlockChannels = [320, 640, 1280, 1280];
    private const int Heads = 8, TimeCondDim = 256, LatentChannels = 4, Tokens = 77;
    private const int LayersPerBlock = 2;
    private const float Epsilon = 1e-5f;

    public static void Write(string directory, ArchitectureOptions options, Dim batch) =>
        ArchitectureModelMaker.WriteGraph(directory, options,
            TestModelMaker.Sd15UnetConfig(BlockChannels.Select(options.Width).ToArray(), options.Width(ClipTextArchitecture.Hidden), LayersPerBlock, options.Groups,
                ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"], ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                options.Kind == ModelKind.Distilled ? TimeCondDim : null),
            layers => WriteGraph(layers, options, batch));

    private static void WriteGraph(NetworkLayers layers, ArchitectureOptions options, Dim batch)
    {
        var g = layers.Graph;
        int[] channels = BlockChannels.Select(options.Width).ToArray();
        int timeChannels = 4 * channels[0];
        int textWidth = options.Width(ClipTextArchitecture.Hidden);

        string sample = g.FloatInput("sample", batch, LatentChannels, "height", "width");
        string timestep = TestModelMaker.TimestepInput(g, options.Float16);
        string text = g.FloatInput("encoder_hidden_states", batch, Tokens, textWidth);
        string? timeCond = options.Kind == ModelKind.Distilled ? g.FloatInput("timestep_cond", batch, TimeCondDim) : null;
        // Every resnet takes the embedding through SiLU first: computed once here.
        string time = layers.Silu(TimeEmbedding(layers, timestep, timeCond, channels[0], timeChannels));
        string Resnet(string path, string x, int inChannels, int outChannels) => layers.Resnet(path, x, inChannels, outChannels, Epsilon, time, timeChannels);
        string Transformer(string path, string x, int width) => layers.SpatialTransformer(path, x, width, Heads, text, textWidth);

        string x = layers.Conv("conv_in", sample, LatentChannels, channels[0]);
        int width = channels[0];
        var skips = new Stack<(string Value, int Channels)>();
        skips.Push((x, width));
        for (int block = 0; block < channels.Length; block++)
        {
            bool last = block == channels.Length - 1;
            for (int layer = 0; layer < LayersPerBlock; layer++)
            {
                x = Resnet($"down_blocks.{block}.resnets.{layer}", x, width, channels[block]);
                width = channels[block];
                if (!last) x = Transformer($"down_blocks.{block}.attentions.{layer}", x, width);
                skips.Push((x, width));
            }
            if (last) continue;
            x = layers.Conv($"down_blocks.{block}.downsamplers.0.conv", x, width, width, stride: 2);
            skips.Push((x, width));
        }

        x = Resnet("mid_block.resnets.0", x, width, width);
        x = Transformer("mid_block.attentions.0", x, width);
        x = Resnet("mid_block.resnets.1", x, width, width);

        for (int block = 0; block < channels.Length; block++)
        {
            int outChannels = channels[^(block + 1)];
            for (int layer = 0; layer <= LayersPerBlock; layer++)
            {
                var skip = skips.Pop();
                x = Resnet($"up_blocks.{block}.resnets.{layer}", g.Node("Concat", [x, skip.Value], IntAttribute("axis", 1L)), width + skip.Channels, outChannels);
                width = outChannels;
                if (block > 0) x = Transformer($"up_blocks.{block}.attentions.{layer}", x, width);
            }
            if (block < channels.Length - 1) x = layers.Upsample($"up_blocks.{block}.upsamplers.0", x, width);
        }

        x = layers.Conv("conv_out", layers.Silu(layers.GroupNorm("conv_norm_out", x, width, Epsilon)), width, LatentChannels);
        g.FloatOutput("out_sample", x, batch, LatentChannels, "height", "width");
    }

    /// <summary>
    /// diffusers' Timesteps (flip_sin_to_cos, freq_shift 0): [cos(t f), sin(t f)] with f_i = 10000^(-i/half);
    /// plus cond_proj of timestep_cond for the distilled kind; then TimestepEmbedding's Linear, SiLU, Linear.
    /// </summary>
    private static string TimeEmbedding(NetworkLayers layers, string timestep, string? timeCond, int width, int timeChannels)
    {
        var g = layers.Graph;
        int half = width / 2;
        float[] frequencies = Enumerable.Range(0, half).Select(i => (float)Math.Exp(-Math.Log(10000) * i / half)).ToArray();
        string angles = g.Node("Mul", [g.Node("Reshape", [timestep, g.Int64s(-1, 1)]), g.Constant(frequencies, 1, half)]);
        string projected = g.Node("Concat", [g.Node("Cos", [angles]), g.Node("Sin", [angles])], IntAttribute("axis", 1L));
        if (timeCond != null)
            projected = g.Node("Add", [projected, layers.Linear("time_embedding.cond_proj", timeCond, TimeCondDim, width, bias: false)]);
        string hidden = layers.Silu(layers.Gemm("time_embedding.linear_1", projected, width, timeChannels));
        return layers.Gemm("time_embedding.linear_2", hidden, timeChannels, timeChannels);
    }
}
