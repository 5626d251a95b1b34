using DataType = Onnx.TensorProto.Types.DataType;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels;

/// <summary>
/// The SDXL-class test model (<see cref="TestModelOptions.Family"/>): two tokenizers, the second padding
/// with "!" as SDXL's does; two text encoders with optimum's SDXL outputs in their order (CLIP-L:
/// last_hidden_state, pooler_output, hidden_states.0..N; bigG: text_embeds, last_hidden_state,
/// hidden_states.0..N), whose last_hidden_state is not the last layer's state (CLIP's final layer
/// norm), so taking it instead of the penultimate one shows; and a UNet that takes text_embeds and
/// time_ids through weights that differ per value, so a swapped height and width shows too.
/// LoRAs patch its <see cref="Modules"/>, named as optimum's SDXL exports name them: the UNet's
/// proj_in and proj_out are Linear (MatMul) as SDXL's are, not the 1x1 convs of SD 1.5.
/// </summary>
internal static class SdxlGraphs
{
    private const int Tokens = 77, LatentChannels = 4, UnetChannels = 8, TimeCondDim = 256;
    public const int Hidden1 = 32, Hidden2 = 48, Layers1 = 2, Layers2 = 3, Pooled = 40;
    public const float VaeScalingFactor = 0.13025f;
    private const int TextWidth = Hidden1 + Hidden2;
    private const string DownAttention = "down_blocks.1.attentions.0", CrossAttention = DownAttention + ".transformer_blocks.0.attn2";
    // SSD-1B's UNet has fewer transformer blocks than SDXL's: its style model lacks this one.
    private const string SecondTransformerBlock = DownAttention + ".transformer_blocks.1";

    /// <summary>
    /// Every LoRA-patchable weight, in graph order: a resnet conv, one attention of down block 1 (two
    /// transformer blocks, as SDXL's have), a mid-block resnet's time_emb_proj, an up block's proj_in and
    /// conv_shortcut, each with its kohya SGM name; and a q_proj per layer of both text encoders and bigG's text_projection.
    /// </summary>
    public static readonly IReadOnlyList<PatchableModule> Modules =
    [
        new(LoraComponent.Unet, "down_blocks.0.resnets.0.conv1", "down_blocks.0.resnets.0.conv1.weight", "Conv", UnetChannels, LatentChannels, 3, WeightLayout.OutIn, "input_blocks_1_0_in_layers_2"),
        new(LoraComponent.Unet, "mid_block.resnets.0.time_emb_proj", "mid_block.resnets.0.time_emb_proj.weight", "Gemm", UnetChannels, UnetChannels, 1, WeightLayout.OutIn, "middle_block_0_emb_layers_1"),
        new(LoraComponent.Unet, $"{DownAttention}.proj_in", "onnx::MatMul_9001", "MatMul", UnetChannels, UnetChannels, 1, WeightLayout.InOut, "input_blocks_4_1_proj_in"),
        new(LoraComponent.Unet, $"{CrossAttention}.to_q", "onnx::MatMul_9002", "MatMul", UnetChannels, UnetChannels, 1, WeightLayout.InOut, "input_blocks_4_1_transformer_blocks_0_attn2_to_q"),
        new(LoraComponent.Unet, $"{CrossAttention}.to_k", "onnx::MatMul_9003", "MatMul", UnetChannels, TextWidth, 1, WeightLayout.InOut, "input_blocks_4_1_transformer_blocks_0_attn2_to_k"),
        new(LoraComponent.Unet, $"{CrossAttention}.to_v", "onnx::MatMul_9004", "MatMul", UnetChannels, TextWidth, 1, WeightLayout.InOut, "input_blocks_4_1_transformer_blocks_0_attn2_to_v"),
        new(LoraComponent.Unet, $"{CrossAttention}.to_out.0", "onnx::MatMul_9005", "MatMul", UnetChannels, UnetChannels, 1, WeightLayout.InOut, "input_blocks_4_1_transformer_blocks_0_attn2_to_out_0"),
        new(LoraComponent.Unet, $"{SecondTransformerBlock}.ff.net.2", "onnx::MatMul_9006", "MatMul", UnetChannels, UnetChannels, 1, WeightLayout.InOut, "input_blocks_4_1_transformer_blocks_1_ff_net_2"),
        new(LoraComponent.Unet, $"{DownAttention}.proj_out", "onnx::MatMul_9007", "MatMul", UnetChannels, UnetChannels, 1, WeightLayout.InOut, "input_blocks_4_1_proj_out"),
        new(LoraComponent.Unet, "up_blocks.0.attentions.1.proj_in", "onnx::MatMul_9008", "MatMul", UnetChannels, UnetChannels, 1, WeightLayout.InOut, "output_blocks_1_1_proj_in"),
        new(LoraComponent.Unet, "up_blocks.0.resnets.2.conv_shortcut", "up_blocks.0.resnets.2.conv_shortcut.weight", "Conv", UnetChannels, UnetChannels, 1, WeightLayout.OutIn, "output_blocks_2_0_skip_connection"),
        .. TextEncoderModules(LoraComponent.TextEncoder, Hidden1, Layers1, 8100),
        .. TextEncoderModules(LoraComponent.TextEncoder2, Hidden2, Layers2, 8200),
        new(LoraComponent.TextEncoder2, "text_projection", "onnx::MatMul_8299", "MatMul", Pooled, Hidden2, 1, WeightLayout.InOut),
    ];

    /// <summary>The modules the model of <paramref name="options"/> has: without the second transformer block in the SSD-1B style.</summary>
    public static IEnumerable<PatchableModule> ModulesOf(TestModelOptions options) =>
        Modules.Where(m => !options.Ssd1bStyle || !m.Path.StartsWith(SecondTransformerBlock + ".", StringComparison.Ordinal));

    private static IEnumerable<PatchableModule> TextEncoderModules(LoraComponent component, int hidden, int layers, int firstWeight) =>
        Enumerable.Range(0, layers).Select(i => new PatchableModule(component, $"text_model.encoder.layers.{i}.self_attn.q_proj",
            $"onnx::MatMul_{firstWeight + i}", "MatMul", hidden, hidden, 1, WeightLayout.InOut));

    private static PatchableModule Module(LoraComponent component, string path) => Modules.Single(m => m.Component == component && m.Path == path);

    public static void WriteTokenizers(string directory, ClipBpeVocabulary vocabulary)
    {
        TestModelMaker.WriteTokenizer(Path.Combine(directory, "tokenizer"), vocabulary, ClipBpeVocabulary.EndOfText);
        TestModelMaker.WriteTokenizer(Path.Combine(directory, "tokenizer_2"), vocabulary, "!");
    }

    public static void WriteTextEncoders(string directory, TestModelOptions options, Dim batch, int vocabularySize)
    {
        WriteTextEncoder(Path.Combine(directory, "text_encoder"), LoraComponent.TextEncoder, options, batch, vocabularySize, Hidden1, Layers1);
        WriteTextEncoder(Path.Combine(directory, "text_encoder_2"), LoraComponent.TextEncoder2, options, batch, vocabularySize, Hidden2, Layers2);
    }

    /// <summary>
    /// Embeddings, then <paramref name="layers"/> Tanh layers of one q_proj each; last_hidden_state is a squashed
    /// copy of the last layer, as a layer norm would be. The second encoder (bigG) has the text projection.
    /// </summary>
    private static void WriteTextEncoder(string directory, LoraComponent component, TestModelOptions options, Dim batch, int vocabularySize, int hidden, int layers)
    {
        bool projection = component == LoraComponent.TextEncoder2;
        var g = new GraphBuilder(Path.GetFileName(directory), options.Seed, options.Float16);
        string ids = g.Input("input_ids", options.Era == ExportEra.Legacy ? DataType.Int32 : DataType.Int64, batch, Tokens);
        string tokens = g.Node("Gather", [g.Weight("token_embedding", [vocabularySize, hidden], 1f), ids]);
        var states = new List<string> { g.Node("Add", [tokens, g.Weight("position_embedding", [Tokens, hidden], 0.5f)]) };
        for (int i = 1; i <= layers; i++)
            states.Add(g.Node("Tanh", [ExportedLayers.Linear(g, options, null, states[^1], Module(component, $"text_model.encoder.layers.{i - 1}.self_attn.q_proj"))]));
        string last = g.Node("Tanh", [g.Node("Mul", [states[^1], g.Scalar(2f)])]);
        string pooled = g.Node("ReduceMean", [last], IntsAttribute("axes", 1L), IntAttribute("keepdims", 0L));
        if (projection)
        {
            g.FloatOutput("text_embeds", ExportedLayers.Linear(g, options, null, pooled, Module(component, "text_projection")), batch, Pooled);
            g.FloatOutput("last_hidden_state", last, batch, Tokens, hidden);
        }
        else
        {
            g.FloatOutput("last_hidden_state", last, batch, Tokens, hidden);
            g.FloatOutput("pooler_output", pooled, batch, hidden);
        }
        for (int i = 0; i <= layers; i++)
            g.FloatOutput($"hidden_states.{i}", states[i], batch, Tokens, hidden);
        g.Save(Path.Combine(directory, "model.onnx"));

        ModelJson.Write(Path.Combine(directory, "config.json"), TestModelMaker.ClipTextConfig(hidden, heads: 2, layers, vocabularySize, vocabularySize, options.Float16, projection ? Pooled : null));
    }

    /// <summary>
    /// optimum's SDXL UNet inputs in their order: sample, timestep, encoder_hidden_states, text_embeds,
    /// time_ids and, distilled, timestep_cond. Each conditions the per-batch bias of the hidden state,
    /// which then passes the patchable modules: a resnet conv, the attention on the text (and its second
    /// transformer block unless SSD-1B style), the up block's proj_in and conv_shortcut. Above 1 MB,
    /// <see cref="TestModelOptions.UnetMegabytes"/> come as a size chain on text_embeds.
    /// </summary>
    public static void WriteUnetGraph(GraphBuilder g, TestModelOptions options, Dim batch, string directory)
    {
        string sample = g.FloatInput("sample", batch, LatentChannels, "height", "width");
        string timestep = options.Era == ExportEra.Legacy
            ? g.Node("Cast", [g.Input("timestep", DataType.Int64, 1)], IntAttribute("to", (long)DataType.Float))
            : g.Input("timestep", DataType.Float);
        string text = g.FloatInput("encoder_hidden_states", batch, Tokens, TextWidth);
        string pooled = g.FloatInput("text_embeds", batch, Pooled);
        // Sizes run to 2048; scaled to about 1 so the term moves the picture without saturating it.
        string timeIds = g.Node("Mul", [g.FloatInput("time_ids", batch, 6), g.Scalar(1f / 1024)]);

        string textTerm = g.Node("MatMul", [
            g.Node("ReduceMean", [text], IntsAttribute("axes", 1L), IntAttribute("keepdims", 0L)),
            g.Weight("text_projection", [TextWidth, UnetChannels], 1f)]);
        string pooledTerm = g.Node("MatMul", [pooled, g.Weight("add_embedding", [Pooled, UnetChannels], 1f)]);
        string sizeTerm = g.Node("MatMul", [timeIds, g.Weight("add_time_proj", [6, UnetChannels], 2f)]);
        string timeTerm = g.Node("Mul", [timestep, g.Weight("time_projection", [UnetChannels], 0.001f)]);
        string perBatch = g.Node("Add", [g.Node("Add", [g.Node("Add", [textTerm, pooledTerm]), sizeTerm]), timeTerm]);
        if (options.Kind == ModelKind.Distilled)
        {
            string timeCond = g.FloatInput("timestep_cond", batch, TimeCondDim);
            perBatch = g.Node("Add", [perBatch, g.Node("MatMul", [timeCond, g.Weight("cond_projection", [TimeCondDim, UnetChannels], 0.1f)])]);
        }
        // The default SDXL test UNet stays as small as its modules; a larger one is for benchmarks.
        if (options.UnetMegabytes > 1)
            perBatch = g.Node("Add", [perBatch, TestModelMaker.SizeChain(g, options, pooled, Pooled, directory)]);
        else
            File.Delete(Path.Combine(directory, "model.onnx_data"));
        // A time embedding [1, channels] as a resnet's time_emb_proj (a Gemm) takes it; timesteps run to 999.
        string timeEmbedding = g.Node("Mul", [g.Node("Reshape", [timestep, g.Int64s(1, 1)]), g.Weight("time_embedding", [1, UnetChannels], 0.001f)]);
        perBatch = g.Node("Add", [perBatch, g.Node("Tanh", [ExportedLayers.Gemm(g, options, null, timeEmbedding, Unet("mid_block.resnets.0.time_emb_proj"))])]);

        string bias = g.Node("Unsqueeze", [perBatch, g.Int64s(2, 3)]);
        string hidden = g.Node("Tanh", [g.Node("Add", [ExportedLayers.Conv(g, options, null, sample, Unet("down_blocks.0.resnets.0.conv1")), bias])]);
        string sequence = g.Node("Transpose", [g.Node("Reshape", [hidden, g.Int64s(0, UnetChannels, -1)])], IntsAttribute("perm", 0L, 2L, 1L));
        sequence = ExportedLayers.LinearWithBias(g, options, null, sequence, Unet($"{DownAttention}.proj_in"));
        sequence = g.Node("Add", [sequence, ExportedLayers.CrossAttention(g, options, null, Modules, CrossAttention, sequence, text)]);
        if (!options.Ssd1bStyle)
            sequence = g.Node("Add", [sequence, ExportedLayers.Linear(g, options, null, g.Node("Tanh", [sequence]), Unet($"{SecondTransformerBlock}.ff.net.2"))]);
        sequence = ExportedLayers.LinearWithBias(g, options, null, sequence, Unet($"{DownAttention}.proj_out"));
        sequence = ExportedLayers.LinearWithBias(g, options, null, g.Node("Tanh", [sequence]), Unet("up_blocks.0.attentions.1.proj_in"));
        string spatial = g.Node("Reshape", [g.Node("Transpose", [sequence], IntsAttribute("perm", 0L, 2L, 1L)), g.Node("Shape", [hidden])]);
        string up = g.Node("Tanh", [ExportedLayers.Conv(g, options, null, g.Node("Tanh", [spatial]), Unet("up_blocks.0.resnets.2.conv_shortcut"))]);
        TestModelMaker.NoiseOutput(g, sample, up, batch);
    }

    private static PatchableModule Unet(string path) => Module(LoraComponent.Unet, path);

    public static object UnetConfig(TestModelOptions options) => new
    {
        _class_name = "UNet2DConditionModel",
        _diffusers_version = "0.24.0",
        act_fn = "silu",
        addition_embed_type = "text_time",
        addition_embed_type_num_heads = 64,
        addition_time_embed_dim = 256,
        attention_head_dim = new[] { 5, 10, 20 },
        block_out_channels = new[] { UnetChannels, 2 * UnetChannels },
        cross_attention_dim = TextWidth,
        down_block_types = new[] { "DownBlock2D", "CrossAttnDownBlock2D" },
        in_channels = LatentChannels,
        layers_per_block = 2,
        out_channels = LatentChannels,
        projection_class_embeddings_input_dim = 6 * 256 + Pooled,
        sample_size = 128,
        time_cond_proj_dim = options.Kind == ModelKind.Distilled ? TimeCondDim : (int?)null,
        transformer_layers_per_block = new[] { 1, options.Ssd1bStyle ? 1 : 2 },
        up_block_types = new[] { "CrossAttnUpBlock2D", "UpBlock2D" },
    };

    // stabilityai/stable-diffusion-xl-base-1.0's scheduler (Euler), which LCM-LoRA users load with LCMScheduler.from_config.
    public static readonly object EulerSchedulerConfig = new
    {
        _class_name = "EulerDiscreteScheduler",
        _diffusers_version = "0.19.0.dev0",
        beta_end = 0.012,
        beta_schedule = "scaled_linear",
        beta_start = 0.00085,
        clip_sample = false,
        interpolation_type = "linear",
        num_train_timesteps = 1000,
        prediction_type = "epsilon",
        sample_max_value = 1.0,
        set_alpha_to_one = false,
        skip_prk_steps = true,
        steps_offset = 1,
        timestep_spacing = "leading",
        trained_betas = (double[]?)null,
        use_karras_sigmas = false,
    };

    public static object ModelIndex(TestModelOptions options) => new
    {
        _class_name = "ORTStableDiffusionXLPipeline",
        _diffusers_version = "0.24.0",
        force_zeros_for_empty_prompt = options.ForceZerosForEmptyPrompt,
        requires_aesthetics_score = false,
        scheduler = new[] { "diffusers", options.Kind == ModelKind.Distilled ? "LCMScheduler" : "EulerDiscreteScheduler" },
        text_encoder = new[] { "transformers", "CLIPTextModel" },
        text_encoder_2 = new[] { "transformers", "CLIPTextModelWithProjection" },
        tokenizer = new[] { "transformers", "CLIPTokenizer" },
        tokenizer_2 = new[] { "transformers", "CLIPTokenizer" },
        unet = new[] { "diffusers", "UNet2DConditionModel" },
        vae_decoder = new[] { "diffusers", "AutoencoderKL" },
        vae_encoder = new[] { "diffusers", "AutoencoderKL" },
    };
}
