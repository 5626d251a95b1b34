using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>
/// Stable Diffusion 1.5's (and SDXL's) <c>AutoencoderKL</c> (block channels 128, 256, 512, 512; two resnets per
/// encoder block, three per decoder block; a mid block of resnet, single-head attention, resnet), as
/// optimum splits it: <c>vae_decoder</c> is post_quant_conv and the decoder (about 49.5M parameters),
/// <c>vae_encoder</c> the encoder and quant_conv. Inputs and outputs are those of the test VAEs.
/// </summary>
internal static class AutoencoderKlArchitecture
{
    private static readonly int[] BlockChannels = [128, 256, 512, 512];
    private const int LayersPerBlock = 2, LatentChannels = 4, ImageChannels = 3;
    private const float Epsilon = 1e-6f;

    public static void WriteDecoder(string directory, ArchitectureOptions options, Dim batch) =>
        ArchitectureModelMaker.WriteGraph(directory, options, Config(options), layers =>
        {
            var g = layers.Graph;
            int[] channels = BlockChannels.Select(options.Width).ToArray();
            string latent = g.FloatInput("latent_sample", batch, LatentChannels, "latent_height", "latent_width");
            string x = layers.Conv("post_quant_conv", latent, LatentChannels, LatentChannels, kernel: 1);
            int width = channels[^1];
            x = MidBlock(layers, "decoder.mid_block", layers.Conv("decoder.conv_in", x, LatentChannels, width), width);
            for (int block = 0; block < channels.Length; block++)
            {
                int outChannels = channels[^(block + 1)];
                for (int layer = 0; layer <= LayersPerBlock; layer++)
                {
                    x = layers.Resnet($"decoder.up_blocks.{block}.resnets.{layer}", x, width, outChannels, Epsilon);
                    width = outChannels;
                }
                if (block < channels.Length - 1) x = layers.Upsample($"decoder.up_blocks.{block}.upsamplers.0", x, width);
            }
            x = layers.Conv("decoder.conv_out", layers.Silu(layers.GroupNorm("decoder.conv_norm_out", x, width, Epsilon)), width, ImageChannels);
            g.FloatOutput("sample", x, batch, ImageChannels, "height", "width");
        });

    /// <summary>
    /// The encoder's mean and log-variance (diffusers' moments) as <c>latent_parameters</c>, or the mean alone as
    /// <c>latent_sample</c>: a sampling graph would make every image-to-image run differ.
    /// </summary>
    public static void WriteEncoder(string directory, ArchitectureOptions options, Dim batch) =>
        ArchitectureModelMaker.WriteGraph(directory, options, Config(options), layers =>
        {
            var g = layers.Graph;
            int[] channels = BlockChannels.Select(options.Width).ToArray();
            string image = g.FloatInput("sample", batch, ImageChannels, "height", "width");
            string x = layers.Conv("encoder.conv_in", image, ImageChannels, channels[0]);
            int width = channels[0];
            for (int block = 0; block < channels.Length; block++)
            {
                for (int layer = 0; layer < LayersPerBlock; layer++)
                {
                    x = layers.Resnet($"encoder.down_blocks.{block}.resnets.{layer}", x, width, channels[block], Epsilon);
                    width = channels[block];
                }
                if (block == channels.Length - 1) continue;
                // diffusers pads only the bottom and right edge before its unpadded stride-2 conv.
                string padded = g.Node("Pad", [x, g.Int64s(0, 0, 0, 0, 0, 0, 1, 1)]);
                x = layers.Conv($"encoder.down_blocks.{block}.downsamplers.0.conv", padded, width, width, stride: 2, padded: false);
            }
            x = MidBlock(layers, "encoder.mid_block", x, width);
            x = layers.Conv("encoder.conv_out", layers.Silu(layers.GroupNorm("encoder.conv_norm_out", x, width, Epsilon)), width, 2 * LatentChannels);
            string moments = layers.Conv("quant_conv", x, 2 * LatentChannels, 2 * LatentChannels, kernel: 1);
            if (options.VaeEncoder == VaeEncoderKind.LatentParameters)
                g.FloatOutput("latent_parameters", moments, batch, 2 * LatentChannels, "latent_height", "latent_width");
            else
                g.FloatOutput("latent_sample", g.Node("Slice", [moments, g.Int64s(0), g.Int64s(LatentChannels), g.Int64s(1)]),
                    batch, LatentChannels, "latent_height", "latent_width");
        });

    /// <summary>UNetMidBlock2D without a time embedding: resnet, attention (single head, GroupNorm first, added back), resnet.</summary>
    private static string MidBlock(NetworkLayers layers, string path, string x, int width)
    {
        var g = layers.Graph;
        x = layers.Resnet($"{path}.resnets.0", x, width, width, Epsilon);
        string attention = $"{path}.attentions.0";
        string normed = layers.ToSequence(layers.GroupNorm($"{attention}.group_norm", x, width, Epsilon), width);
        string attended = layers.Attention(AttentionProjections.Diffusers(attention), normed, normed, width, width, heads: 1, qkvBias: true);
        x = g.Node("Add", [x, layers.ToSpatial(attended, x)]);
        return layers.Resnet($"{path}.resnets.1", x, width, width, Epsilon);
    }

    /// <summary>SD 1.5's vae/config.json, or SDXL's (the same network, trained anew: another scaling factor and sample size), widths as written.</summary>
    private static object Config(ArchitectureOptions options)
    {
        bool sdxl = options.Architecture == ModelArchitecture.Sdxl;
        return new
        {
            _class_name = "AutoencoderKL",
            _diffusers_version = "0.22.0",
            act_fn = "silu",
            block_out_channels = BlockChannels.Select(options.Width).ToArray(),
            down_block_types = Enumerable.Repeat("DownEncoderBlock2D", BlockChannels.Length),
            in_channels = ImageChannels,
            latent_channels = LatentChannels,
            layers_per_block = LayersPerBlock,
            norm_num_groups = options.Groups,
            out_channels = ImageChannels,
            sample_size = sdxl ? 1024 : 512,
            scaling_factor = sdxl ? 0.13025f : 0.18215f,
            up_block_types = Enumerable.Repeat("UpDecoderBlock2D", BlockChannels.Length),
            torch_dtype = options.Float16 ? "float16" : "float32",
        };
    }
}
