using Lcm.Engine.Models;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>
/// The block structure of a <c>UNet2DConditionModel</c>: channels, transformer depth and heads per
/// level (depth 0: a block without attention), the mid block's depth, the text width its
/// cross-attention takes, whether its transformers project with Linear layers (SDXL) or 1x1 convs
/// (SD 1.5), and whether it takes SDXL's added conditions.
/// </summary>
internal sealed record UnetLayout(int[] BlockChannels, int[] TransformerDepth, int[] Heads, int MidDepth, int TextWidth,
    bool LinearProjection, bool AddedConditions, string[] DownBlocks, string[] UpBlocks)
{
    /// <summary>runwayml/stable-diffusion-v1-5 (LCM_Dreamshaper_v7 adds cond_proj): about 860M parameters.</summary>
    public static readonly UnetLayout Sd15 = new([320, 640, 1280, 1280], [1, 1, 1, 0], [8, 8, 8, 8], 1, 768, false, false,
        ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"], ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]);

    /// <summary>stabilityai/stable-diffusion-xl-base-1.0 (latent-consistency/lcm-sdxl adds cond_proj): about 2.6B parameters.</summary>
    public static readonly UnetLayout Sdxl = new([320, 640, 1280], [0, 2, 10], [5, 10, 20], 10, 2048, true, true,
        ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"], ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]);
}

/// <summary>
/// A <c>UNet2DConditionModel</c> at its real size, as diffusers builds it from a <see cref="UnetLayout"/>:
/// two resnets per down block and three per up block, the skip connections, the mid block, for the
/// distilled kind the <c>cond_proj</c> of <c>timestep_cond</c>, for SDXL the <c>add_embedding</c> of
/// the pooled text and the <c>time_ids</c>. The inputs and output are those of the test UNets of the
/// family, so the engine runs it as it runs a real export.
/// </summary>
internal static class UnetArchitecture
{
    private const int TimeCondDim = 256, LatentChannels = 4, Tokens = 77, TimeIdsEmbedding = 256;
    private const int LayersPerBlock = 2;
    private const float Epsilon = 1e-5f;

    public static void Write(string directory, ArchitectureOptions options, Dim batch, UnetLayout layout) =>
        ArchitectureModelMaker.WriteGraph(directory, options, Config(options, layout), layers => WriteGraph(layers, options, batch, layout));

    private static void WriteGraph(NetworkLayers layers, ArchitectureOptions options, Dim batch, UnetLayout layout)
    {
        var g = layers.Graph;
        int[] channels = layout.BlockChannels.Select(options.Width).ToArray();
        int timeChannels = 4 * channels[0];
        int textWidth = options.Width(layout.TextWidth), pooled = PooledWidth(options);

        string sample = g.FloatInput("sample", batch, LatentChannels, "height", "width");
        string timestep = TestModelMaker.TimestepInput(g, options.Float16);
        string text = g.FloatInput("encoder_hidden_states", batch, Tokens, textWidth);
        string? textEmbeds = layout.AddedConditions ? g.FloatInput("text_embeds", batch, pooled) : null;
        string? timeIds = layout.AddedConditions ? g.FloatInput("time_ids", batch, Unet.TimeIdsLength) : null;
        string? timeCond = options.Kind == ModelKind.Distilled ? g.FloatInput("timestep_cond", batch, TimeCondDim) : null;
        string embedding = TimeEmbedding(layers, timestep, timeCond, channels[0], timeChannels);
        if (textEmbeds is not null) embedding = g.Node("Add", [embedding, AddedEmbedding(layers, textEmbeds, timeIds!, pooled, timeChannels)]);
        // Every resnet takes the embedding through SiLU first: computed once here.
        string time = layers.Silu(embedding);
        string Resnet(string path, string x, int inChannels, int outChannels) => layers.Resnet(path, x, inChannels, outChannels, Epsilon, time, timeChannels);
        string Transformer(string path, string x, int width, int level, int depth) =>
            layers.SpatialTransformer(path, x, width, layout.Heads[level], text, textWidth, depth, layout.LinearProjection);

        string x = layers.Conv("conv_in", sample, LatentChannels, channels[0]);
        int width = channels[0];
        var skips = new Stack<(string Value, int Channels)>();
        skips.Push((x, width));
        for (int block = 0; block < channels.Length; block++)
        {
            for (int layer = 0; layer < LayersPerBlock; layer++)
            {
                x = Resnet($"down_blocks.{block}.resnets.{layer}", x, width, channels[block]);
                width = channels[block];
                if (layout.TransformerDepth[block] > 0) x = Transformer($"down_blocks.{block}.attentions.{layer}", x, width, block, layout.TransformerDepth[block]);
                skips.Push((x, width));
            }
            if (block == channels.Length - 1) continue;
            x = layers.Conv($"down_blocks.{block}.downsamplers.0.conv", x, width, width, stride: 2);
            skips.Push((x, width));
        }

        x = Resnet("mid_block.resnets.0", x, width, width);
        x = Transformer("mid_block.attentions.0", x, width, channels.Length - 1, layout.MidDepth);
        x = Resnet("mid_block.resnets.1", x, width, width);

        for (int block = 0; block < channels.Length; block++)
        {
            int level = channels.Length - 1 - block, outChannels = channels[level];
            for (int layer = 0; layer <= LayersPerBlock; layer++)
            {
                var skip = skips.Pop();
                x = Resnet($"up_blocks.{block}.resnets.{layer}", g.Node("Concat", [x, skip.Value], IntAttribute("axis", 1L)), width + skip.Channels, outChannels);
                width = outChannels;
                if (layout.TransformerDepth[level] > 0) x = Transformer($"up_blocks.{block}.attentions.{layer}", x, width, level, layout.TransformerDepth[level]);
            }
            if (block < channels.Length - 1) x = layers.Upsample($"up_blocks.{block}.upsamplers.0", x, width);
        }

        x = layers.Conv("conv_out", layers.Silu(layers.GroupNorm("conv_norm_out", x, width, Epsilon)), width, LatentChannels);
        g.FloatOutput("out_sample", x, batch, LatentChannels, "height", "width");
    }

    /// <summary>
    /// diffusers' Timesteps (flip_sin_to_cos, freq_shift 0) of the timestep, plus cond_proj of timestep_cond for
    /// the distilled kind; then TimestepEmbedding's Linear, SiLU, Linear.
    /// </summary>
    private static string TimeEmbedding(NetworkLayers layers, string timestep, string? timeCond, int width, int timeChannels)
    {
        var g = layers.Graph;
        string projected = Sinusoids(g, timestep, width);
        if (timeCond != null)
            projected = g.Node("Add", [projected, layers.Linear("time_embedding.cond_proj", timeCond, TimeCondDim, width, bias: false)]);
        string hidden = layers.Silu(layers.Gemm("time_embedding.linear_1", projected, width, timeChannels));
        return layers.Gemm("time_embedding.linear_2", hidden, timeChannels, timeChannels);
    }

    /// <summary>SDXL's text_time embedding: add_time_proj (Timesteps of 256) of each time id, after the pooled text, through add_embedding.</summary>
    private static string AddedEmbedding(NetworkLayers layers, string textEmbeds, string timeIds, int pooled, int timeChannels)
    {
        var g = layers.Graph;
        int inputs = Unet.TimeIdsLength * TimeIdsEmbedding + pooled;
        string times = g.Node("Reshape", [Sinusoids(g, timeIds, TimeIdsEmbedding), g.Int64s(-1, Unet.TimeIdsLength * TimeIdsEmbedding)]);
        string joined = g.Node("Concat", [textEmbeds, times], IntAttribute("axis", 1L));
        string hidden = layers.Silu(layers.Gemm("add_embedding.linear_1", joined, inputs, timeChannels));
        return layers.Gemm("add_embedding.linear_2", hidden, timeChannels, timeChannels);
    }

    /// <summary>[cos(v f), sin(v f)] of every value, f_i = 10000^(-i/half): a [values, width] matrix.</summary>
    private static string Sinusoids(GraphBuilder g, string values, int width)
    {
        int half = width / 2;
        float[] frequencies = Enumerable.Range(0, half).Select(i => (float)Math.Exp(-Math.Log(10000) * i / half)).ToArray();
        string angles = g.Node("Mul", [g.Node("Reshape", [values, g.Int64s(-1, 1)]), g.Constant(frequencies, 1, half)]);
        return g.Node("Concat", [g.Node("Cos", [angles]), g.Node("Sin", [angles])], IntAttribute("axis", 1L));
    }

    /// <summary>SDXL's pooled text embedding, bigG's projected width.</summary>
    private static int PooledWidth(ArchitectureOptions options) => options.Width(ClipTextShape.SdxlSecond.Hidden);

    private static object Config(ArchitectureOptions options, UnetLayout layout)
    {
        int[] channels = layout.BlockChannels.Select(options.Width).ToArray();
        int? timeCond = options.Kind == ModelKind.Distilled ? TimeCondDim : null;
        int textWidth = options.Width(layout.TextWidth);
        if (!layout.AddedConditions)
            return TestModelMaker.Sd15UnetConfig(channels, textWidth, LayersPerBlock, options.Groups, layout.DownBlocks, layout.UpBlocks, timeCond);
        return new
        {
            _class_name = "UNet2DConditionModel",
            _diffusers_version = "0.24.0",
            act_fn = "silu",
            addition_embed_type = "text_time",
            addition_embed_type_num_heads = 64,
            addition_time_embed_dim = TimeIdsEmbedding,
            attention_head_dim = layout.Heads,
            block_out_channels = channels,
            cross_attention_dim = textWidth,
            down_block_types = layout.DownBlocks,
            flip_sin_to_cos = true,
            freq_shift = 0,
            in_channels = LatentChannels,
            layers_per_block = LayersPerBlock,
            norm_num_groups = options.Groups,
            out_channels = LatentChannels,
            projection_class_embeddings_input_dim = Unet.TimeIdsLength * TimeIdsEmbedding + PooledWidth(options),
            sample_size = 128,
            time_cond_proj_dim = timeCond,
            transformer_layers_per_block = layout.TransformerDepth.Select(d => Math.Max(d, 1)).ToArray(),
            up_block_types = layout.UpBlocks,
            use_linear_projection = true,
        };
    }
}
