using DataType = Onnx.TensorProto.Types.DataType;
using Lcm.Engine.Models;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels;

/// <summary>
/// Writes a tiny, seeded LCM in the diffusers/optimum ONNX folder layout, with the input and output
/// names and types of real SimianLuo/LCM_Dreamshaper_v7 exports, so every engine code path can run
/// on real ONNX files in ONNX Runtime. Its pictures are meaningless.
/// </summary>
public static class TestModelMaker
{
    private const int Tokens = 77;
    private const int Hidden = 32;
    private const int LatentChannels = 4;
    private const int TimeCondDim = 256;
    private const int UnetChannels = 8;
    private const float VaeScalingFactor = 0.18215f;

    // Big UNet weights are square matrices of at most this side (64 MiB in float32).
    private const int MaxMatrixSide = 4096;

    // Above this many weight bytes the big matrices go to unet/model.onnx_data, as in real exports
    // (whose UNets pass protobuf's 2 GiB message limit), where ONNX Runtime can memory-map them.
    private const long ExternalDataThreshold = 32L << 20;

    public static void Write(string directory, TestModelOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.UnetMegabytes, 1);
        Directory.CreateDirectory(directory);
        var vocabulary = ClipBpeVocabulary.Build();
        Dim batch = options.FixedBatch ? 1 : "batch";

        bool sdxl = options.Family == ModelFamily.StableDiffusionXL;
        if (sdxl && options.Sd15Style) throw new ArgumentException("the SD 1.5 style and the SDXL family exclude each other", nameof(options));
        if (!sdxl && options.Ssd1bStyle) throw new ArgumentException("the SSD-1B style is of the SDXL family", nameof(options));
        if (sdxl)
        {
            SdxlGraphs.WriteTokenizers(directory, vocabulary);
            SdxlGraphs.WriteTextEncoders(directory, options, batch, vocabulary.Tokens.Count);
        }
        else
        {
            WriteTokenizer(Path.Combine(directory, "tokenizer"), vocabulary, ClipBpeVocabulary.EndOfText);
            WriteTextEncoder(Path.Combine(directory, "text_encoder"), options, batch, vocabulary.Tokens.Count);
        }
        WriteUnet(Path.Combine(directory, "unet"), options, batch);
        WriteVaeDecoder(Path.Combine(directory, "vae_decoder"), options, batch);
        WriteVaeEncoder(Path.Combine(directory, "vae_encoder"), options, batch);
        if (options.TinyVae)
        {
            WriteTinyVaeDecoder(Path.Combine(directory, "vae_decoder_tiny"), options, batch);
            WriteTinyVaeEncoder(Path.Combine(directory, "vae_encoder_tiny"), options, batch);
        }
        ModelJson.Write(Path.Combine(directory, "scheduler", "scheduler_config.json"),
            options.Sd15Style ? Sd15StyleGraphs.SchedulerConfig : sdxl && options.Kind == ModelKind.LcmLora ? SdxlGraphs.EulerSchedulerConfig : SchedulerConfig);
        ModelJson.Write(Path.Combine(directory, "model_index.json"),
            options.Sd15Style ? Sd15StyleGraphs.ModelIndex : sdxl ? SdxlGraphs.ModelIndex(options) : ModelIndex);
    }

    /// <summary>
    /// A tokenizer folder. A pad token other than the end token ("!" in SDXL's tokenizer_2) is an added
    /// special token there, listed in added_tokens_decoder as newer transformers write it.
    /// </summary>
    internal static void WriteTokenizer(string directory, ClipBpeVocabulary vocabulary, string padToken)
    {
        vocabulary.Write(directory);
        var config = new Dictionary<string, object>
        {
            ["add_prefix_space"] = false,
            ["bos_token"] = ClipBpeVocabulary.StartOfText,
            ["clean_up_tokenization_spaces"] = true,
            ["do_lower_case"] = true,
            ["eos_token"] = ClipBpeVocabulary.EndOfText,
            ["errors"] = "replace",
            ["model_max_length"] = Tokens,
            ["pad_token"] = padToken,
            ["tokenizer_class"] = "CLIPTokenizer",
            ["unk_token"] = ClipBpeVocabulary.EndOfText,
        };
        if (padToken != ClipBpeVocabulary.EndOfText)
        {
            var ids = vocabulary.Tokens.Select((token, id) => (token, id)).ToDictionary(t => t.token, t => t.id);
            config["added_tokens_decoder"] = new[] { padToken, ClipBpeVocabulary.StartOfText, ClipBpeVocabulary.EndOfText }.ToDictionary(
                token => ids[token].ToString(System.Globalization.CultureInfo.InvariantCulture),
                token => (object)new { content = token, lstrip = false, normalized = token == padToken, rstrip = false, single_word = false, special = true });
        }
        ModelJson.Write(Path.Combine(directory, "tokenizer_config.json"), config);
        ModelJson.Write(Path.Combine(directory, "special_tokens_map.json"), new
        {
            bos_token = ClipBpeVocabulary.StartOfText,
            eos_token = ClipBpeVocabulary.EndOfText,
            pad_token = padToken,
            unk_token = ClipBpeVocabulary.EndOfText,
        });
    }

    /// <summary>Token plus position embedding through Tanh; the pooled output is the mean over tokens.</summary>
    private static void WriteTextEncoder(string directory, TestModelOptions options, Dim batch, int vocabularySize)
    {
        var g = new GraphBuilder("text_encoder", options.Seed, options.Float16);
        string ids = g.Input("input_ids", DataType.Int32, batch, Tokens);
        string tokens = g.Node("Gather", [g.Weight("token_embedding", [vocabularySize, Hidden], 1f), ids]);
        string positions = g.Weight("position_embedding", [Tokens, Hidden], 0.5f);
        string embeddings = g.Node("Add", [tokens, positions]);
        string hidden = options.Sd15Style ? Sd15StyleGraphs.TextEncoderLayer(g, options, embeddings) : g.Node("Tanh", [embeddings]);
        g.FloatOutput("last_hidden_state", hidden, batch, Tokens, Hidden);
        g.FloatOutput("pooler_output", g.Node("ReduceMean", [hidden], IntsAttribute("axes", 1L), IntAttribute("keepdims", 0L)), batch, Hidden);
        g.Save(Path.Combine(directory, "model.onnx"));

        ModelJson.Write(Path.Combine(directory, "config.json"), ClipTextConfig(Hidden, heads: 2, layers: 1, vocabularySize, vocabularySize, options.Float16));
    }

    /// <summary>
    /// A text_encoder/config.json: CLIP-L's (quick_gelu) or, given <paramref name="projectionDim"/>, OpenCLIP bigG's
    /// <c>CLIPTextModelWithProjection</c> (gelu, padded with "!", id 0). The special token ids are those of the
    /// test tokenizer (<paramref name="tokenizerVocabularySize"/> tokens).
    /// </summary>
    internal static object ClipTextConfig(int hidden, int heads, int layers, int vocabularySize, int tokenizerVocabularySize, bool float16, int? projectionDim = null) => new
    {
        _name_or_path = "lcm-functions-test-model",
        architectures = new[] { projectionDim is null ? "CLIPTextModel" : "CLIPTextModelWithProjection" },
        model_type = "clip_text_model",
        hidden_act = projectionDim is null ? "quick_gelu" : "gelu",
        hidden_size = hidden,
        intermediate_size = 4 * hidden,
        num_attention_heads = heads,
        num_hidden_layers = layers,
        max_position_embeddings = Tokens,
        projection_dim = projectionDim ?? hidden,
        vocab_size = vocabularySize,
        bos_token_id = tokenizerVocabularySize - 2,
        eos_token_id = tokenizerVocabularySize - 1,
        pad_token_id = projectionDim is null ? tokenizerVocabularySize - 1 : 0,
        torch_dtype = float16 ? "float16" : "float32",
    };

    private static void WriteUnet(string directory, TestModelOptions options, Dim batch)
    {
        Directory.CreateDirectory(directory);
        var g = new GraphBuilder("unet", options.Seed, options.Float16);
        if (options.Sd15Style)
            Sd15StyleGraphs.WriteUnetGraph(g, options, batch, directory);
        else if (options.Family == ModelFamily.StableDiffusionXL)
            SdxlGraphs.WriteUnetGraph(g, options, batch, directory);
        else
            WriteLcmUnetGraph(g, options, batch, directory);
        g.Save(Path.Combine(directory, "model.onnx"));
        ModelJson.Write(Path.Combine(directory, "config.json"), options.Family == ModelFamily.StableDiffusionXL ? SdxlGraphs.UnetConfig(options) : UnetConfig(options));
    }

    /// <summary>
    /// Predicts noise as a mix of the sample and a two-conv term whose per-batch bias comes from the
    /// text, the guidance embedding, the timestep and the size chain, so every input moves the output.
    /// </summary>
    private static void WriteLcmUnetGraph(GraphBuilder g, TestModelOptions options, Dim batch, string directory)
    {
        string sample = g.FloatInput("sample", batch, LatentChannels, "height", "width");
        string timestep = TimestepInput(g, options.Float16);
        string text = g.FloatInput("encoder_hidden_states", batch, Tokens, Hidden);
        string timeCond = g.FloatInput("timestep_cond", batch, TimeCondDim);

        string textTerm = g.Node("MatMul", [
            g.Node("ReduceMean", [text], IntsAttribute("axes", 1L), IntAttribute("keepdims", 0L)),
            g.Weight("text_projection", [Hidden, UnetChannels], 1f)]);
        string condTerm = g.Node("MatMul", [timeCond, g.Weight("cond_projection", [TimeCondDim, UnetChannels], 0.1f)]);
        // Timesteps run to 999; a small factor keeps the term near ±1.
        string timeTerm = g.Node("Mul", [timestep, g.Weight("time_projection", [UnetChannels], 0.001f)]);
        string perBatch = g.Node("Add", [g.Node("Add", [g.Node("Add", [textTerm, condTerm]), timeTerm]), SizeChain(g, options, timeCond, TimeCondDim, directory)]);
        NoiseHead(g, sample, perBatch, batch);
    }

    /// <summary>The SD 1.5 UNet's timestep input as real exports declare it (int64 [1] in float32 models, a float32 scalar in float16 ones), as float32.</summary>
    internal static string TimestepInput(GraphBuilder g, bool float16) => float16
        ? g.Input("timestep", DataType.Float)
        : g.Node("Cast", [g.Input("timestep", DataType.Int64, 1)], IntAttribute("to", (long)DataType.Float));

    /// <summary>The noise prediction of the distilled test UNet from the sample and a [batch, channels] bias that carries every conditioning input.</summary>
    private static void NoiseHead(GraphBuilder g, string sample, string perBatch, Dim batch)
    {
        string bias = g.Node("Unsqueeze", [perBatch, g.Int64s(2, 3)]);
        string hidden = g.Node("Tanh", [g.Node("Add", [Conv3x3(g, "conv_in", sample, LatentChannels, UnetChannels), bias])]);
        NoiseOutput(g, sample, hidden, batch);
    }

    /// <summary>conv_out on the UNet's [batch, channels, h, w] hidden state, mixed into the noise prediction.</summary>
    internal static void NoiseOutput(GraphBuilder g, string sample, string hidden, Dim batch)
    {
        string term = g.Node("Tanh", [Conv3x3(g, "conv_out", hidden, UnetChannels, LatentChannels)]);
        // Predicting mostly the sample itself keeps the scheduler's denoised estimates latent-sized.
        string noise = g.Node("Add", [g.Node("Mul", [sample, g.Scalar(0.8f)]), g.Node("Mul", [term, g.Scalar(0.5f)])]);
        g.FloatOutput("out_sample", noise, batch, LatentChannels, "height", "width");
    }

    private static object UnetConfig(TestModelOptions options) =>
        Sd15UnetConfig([UnetChannels, 2 * UnetChannels], Hidden, layersPerBlock: 1, groups: UnetChannels,
            ["CrossAttnDownBlock2D", "DownBlock2D"], ["UpBlock2D", "CrossAttnUpBlock2D"], options.Sd15Style ? null : TimeCondDim);

    /// <summary>An SD 1.5 unet/config.json with the sizes of the UNet written; without <paramref name="timeCondDim"/> for the LCM-LoRA kind.</summary>
    internal static object Sd15UnetConfig(int[] blockChannels, int crossAttentionDim, int layersPerBlock, int groups, string[] downBlocks, string[] upBlocks, int? timeCondDim) => new
    {
        _class_name = "UNet2DConditionModel",
        _diffusers_version = "0.22.0",
        act_fn = "silu",
        attention_head_dim = 8,
        block_out_channels = blockChannels,
        center_input_sample = false,
        cross_attention_dim = crossAttentionDim,
        down_block_types = downBlocks,
        flip_sin_to_cos = true,
        freq_shift = 0,
        in_channels = LatentChannels,
        layers_per_block = layersPerBlock,
        norm_num_groups = groups,
        out_channels = LatentChannels,
        sample_size = 64,
        time_cond_proj_dim = timeCondDim,
        up_block_types = upBlocks,
    };

    /// <summary>
    /// Carries the size knob: about UnetMegabytes of square matrices that a [batch, K] vector tiled
    /// from a [batch, <paramref name="width"/>] input (timestep_cond; SDXL's text_embeds) passes through,
    /// reduced to a [batch, 1] term. Matrix-vector products keep a gigabyte-sized UNet cheap to run,
    /// unlike weights applied per pixel.
    /// </summary>
    internal static string SizeChain(GraphBuilder g, TestModelOptions options, string input, int width, string directory)
    {
        int elementBytes = options.Float16 ? 2 : 4;
        long totalBytes = (long)options.UnetMegabytes << 20;
        long elements = totalBytes / elementBytes;
        int matrices = (int)Math.Ceiling(elements / ((double)MaxMatrixSide * MaxMatrixSide));
        int side = (int)Math.Sqrt(elements / (double)matrices);

        string vector = g.Node("Tile", [input, g.Int64s(1, (side + width - 1) / width)]);
        vector = g.Node("Slice", [vector, g.Int64s(0), g.Int64s(side), g.Int64s(1)]);

        string dataPath = Path.Combine(directory, "model.onnx_data");
        File.Delete(dataPath); // rewriting a folder with a smaller UNet must not leave a stale data file
        using var external = totalBytes > ExternalDataThreshold ? new ExternalDataFile(dataPath) : null;
        // Variance 2/K keeps the Tanh chain's activations from fading over dozens of layers.
        float limit = MathF.Sqrt(6f / side);
        for (int i = 0; i < matrices; i++)
            vector = g.Node("Tanh", [g.Node("MatMul", [vector, g.Weight($"size_chain_{i}", [side, side], limit, external)])]);
        return g.Node("ReduceMean", [g.Node("Mul", [vector, vector])], IntsAttribute("axes", 1L), IntAttribute("keepdims", 1L));
    }

    private static string Conv3x3(GraphBuilder g, string name, string input, int inChannels, int outChannels)
    {
        float limit = MathF.Sqrt(3f / (inChannels * 9));
        return g.Node("Conv", [input, g.Weight($"{name}.weight", [outChannels, inChannels, 3, 3], limit), g.Weight($"{name}.bias", [outChannels], 0.1f)],
            IntsAttribute("kernel_shape", 3L, 3L), IntsAttribute("pads", 1L, 1L, 1L, 1L));
    }

    /// <summary>One ConvTranspose turns each latent pixel into an 8x8 patch; Tanh lands it in [-1, 1].</summary>
    private static void WriteVaeDecoder(string directory, TestModelOptions options, Dim batch)
    {
        var g = new GraphBuilder("vae_decoder", options.Seed, options.VaeFloat16);
        string latent = g.FloatInput("latent_sample", batch, LatentChannels, "latent_height", "latent_width");
        // Latents arrive divided by the scaling factor (about ±5); small weights keep Tanh out of saturation.
        string image = g.Node("ConvTranspose", [latent, g.Weight("conv.weight", [LatentChannels, 3, 8, 8], 0.1f), g.Weight("conv.bias", [3], 0.1f)],
            IntsAttribute("kernel_shape", 8L, 8L), IntsAttribute("strides", 8L, 8L));
        // Far past float16's 65504: the output Cast gives infinities, as SDXL's VAE overflows in float16.
        string decoded = options.OverflowingVae ? g.Node("Mul", [image, g.Scalar(1e6f)]) : g.Node("Tanh", [image]);
        g.FloatOutput("sample", decoded, batch, 3, "height", "width");
        g.Save(Path.Combine(directory, "model.onnx"));
        ModelJson.Write(Path.Combine(directory, "config.json"), VaeConfig(options));
    }

    /// <summary>
    /// AutoencoderTiny's decoder contract: the UNet's latents as they are (scaling factor 1), clamped
    /// softly by tanh(x / 3) * 3 as DecoderTiny does, to pixels in [-1, 1]; one ConvTranspose stands in
    /// for its blocks. Its weights differ from the full decoder's, so the two give different pictures.
    /// </summary>
    private static void WriteTinyVaeDecoder(string directory, TestModelOptions options, Dim batch)
    {
        var g = new GraphBuilder("vae_decoder_tiny", options.Seed + 7, options.VaeFloat16);
        string latent = g.FloatInput("latent_sample", batch, LatentChannels, "latent_height", "latent_width");
        string clamped = g.Node("Mul", [g.Node("Tanh", [g.Node("Div", [latent, g.Scalar(3f)])]), g.Scalar(3f)]);
        string image = g.Node("ConvTranspose", [clamped, g.Weight("conv.weight", [LatentChannels, 3, 8, 8], 0.3f), g.Weight("conv.bias", [3], 0.1f)],
            IntsAttribute("kernel_shape", 8L, 8L), IntsAttribute("strides", 8L, 8L));
        g.FloatOutput("sample", g.Node("Tanh", [image]), batch, 3, "height", "width");
        g.Save(Path.Combine(directory, "model.onnx"));
        ModelJson.Write(Path.Combine(directory, "config.json"), TinyVaeConfig);
    }

    // What an AutoencoderTiny export's decoder and encoder folders both carry.
    private static readonly object TinyVaeConfig = new
    {
        _class_name = "AutoencoderTiny",
        _diffusers_version = "0.22.0",
        in_channels = 3,
        out_channels = 3,
        latent_channels = LatentChannels,
        scaling_factor = 1.0,
    };

    /// <summary>
    /// AutoencoderTiny's encoder contract: pixels in [-1, 1] to latent_sample already in the UNet's space
    /// (scaling factor 1, nothing to sample); one stride-8 Conv with its own weights stands in for its blocks.
    /// </summary>
    private static void WriteTinyVaeEncoder(string directory, TestModelOptions options, Dim batch)
    {
        var g = new GraphBuilder("vae_encoder_tiny", options.Seed + 13, options.VaeFloat16);
        string image = g.FloatInput("sample", batch, 3, "height", "width");
        g.FloatOutput("latent_sample", Conv8x8(g, "conv", image), batch, LatentChannels, "latent_height", "latent_width");
        g.Save(Path.Combine(directory, "model.onnx"));
        ModelJson.Write(Path.Combine(directory, "config.json"), TinyVaeConfig);
    }

    /// <summary>One stride-8 Conv per output; log-variance is squashed into [-6, 0] like a trained VAE's.</summary>
    private static void WriteVaeEncoder(string directory, TestModelOptions options, Dim batch)
    {
        var g = new GraphBuilder("vae_encoder", options.Seed, options.VaeFloat16);
        string image = g.FloatInput("sample", batch, 3, "height", "width");
        string mean = Conv8x8(g, "mean", image);
        if (options.VaeEncoder == VaeEncoderKind.LatentSample)
            g.FloatOutput("latent_sample", mean, batch, LatentChannels, "latent_height", "latent_width");
        else
        {
            string logVariance = g.Node("Sub", [g.Node("Mul", [g.Node("Tanh", [Conv8x8(g, "log_variance", image)]), g.Scalar(3f)]), g.Scalar(3f)]);
            g.FloatOutput("latent_parameters", g.Node("Concat", [mean, logVariance], IntAttribute("axis", 1L)),
                batch, 2 * LatentChannels, "latent_height", "latent_width");
        }
        g.Save(Path.Combine(directory, "model.onnx"));
        ModelJson.Write(Path.Combine(directory, "config.json"), VaeConfig(options));
    }

    private static string Conv8x8(GraphBuilder g, string name, string image) =>
        g.Node("Conv", [image, g.Weight($"{name}.weight", [LatentChannels, 3, 8, 8], MathF.Sqrt(3f / (3 * 64))), g.Weight($"{name}.bias", [LatentChannels], 0.1f)],
            IntsAttribute("kernel_shape", 8L, 8L), IntsAttribute("strides", 8L, 8L));

    private static object VaeConfig(TestModelOptions options) => new
    {
        _class_name = "AutoencoderKL",
        _diffusers_version = "0.22.0",
        act_fn = "silu",
        // Four blocks: consumers derive the 8x latent downscale from this length, as diffusers does.
        block_out_channels = new[] { 8, 8, 8, 8 },
        down_block_types = Enumerable.Repeat("DownEncoderBlock2D", 4),
        force_upcast = true,
        in_channels = 3,
        latent_channels = LatentChannels,
        layers_per_block = 1,
        norm_num_groups = 8,
        out_channels = 3,
        sample_size = 512,
        scaling_factor = options.Family == ModelFamily.StableDiffusionXL ? SdxlGraphs.VaeScalingFactor : VaeScalingFactor,
        up_block_types = Enumerable.Repeat("UpDecoderBlock2D", 4),
        torch_dtype = options.VaeFloat16 ? "float16" : "float32",
    };

    // LCM_Dreamshaper_v7's scheduler, key for key.
    internal static readonly object SchedulerConfig = new
    {
        _class_name = "LCMScheduler",
        _diffusers_version = "0.22.0",
        beta_end = 0.012,
        beta_schedule = "scaled_linear",
        beta_start = 0.00085,
        clip_sample = false,
        clip_sample_range = 1.0,
        dynamic_thresholding_ratio = 0.995,
        num_train_timesteps = 1000,
        original_inference_steps = 50,
        prediction_type = "epsilon",
        rescale_betas_zero_snr = false,
        sample_max_value = 1.0,
        set_alpha_to_one = true,
        steps_offset = 1,
        thresholding = false,
        timestep_scaling = 10.0,
        timestep_spacing = "leading",
        trained_betas = (double[]?)null,
    };

    internal static readonly object ModelIndex = new
    {
        _class_name = "LatentConsistencyModelPipeline",
        _diffusers_version = "0.22.0",
        feature_extractor = new string?[] { null, null },
        requires_safety_checker = false,
        safety_checker = new string?[] { null, null },
        scheduler = new[] { "diffusers", "LCMScheduler" },
        text_encoder = new[] { "transformers", "CLIPTextModel" },
        tokenizer = new[] { "transformers", "CLIPTokenizer" },
        unet = new[] { "diffusers", "UNet2DConditionModel" },
        vae_decoder = new[] { "diffusers", "AutoencoderKL" },
        vae_encoder = new[] { "diffusers", "AutoencoderKL" },
    };
}
