using Lcm.Engine.Loaders.Lora;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels;

/// <summary>
/// The graphs of the SD 1.5-style test model (<see cref="TestModelOptions.Sd15Style"/>): a UNet with
/// three inputs (no <c>timestep_cond</c>) and a text encoder, named as real exports name them. Nodes
/// are scoped by module (<c>/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_q/MatMul</c>);
/// Linear layers are MatMuls on transposed <c>onnx::MatMul_*</c> weights [in, out], Conv weights keep
/// their module names, and there is a Gemm of each <c>transB</c>. The float32 UNet keeps its weights in
/// <c>model.onnx_data</c> as real exports do; the float16 one and the text encoders keep them in the graph.
/// The layers come from <see cref="ExportedLayers"/>.
/// </summary>
internal static class Sd15StyleGraphs
{
    private const int Channels = 8, TimeChannels = 16, TimeProjection = 8, Hidden = 32, LatentChannels = 4;
    private const string Attention = "down_blocks.0.attentions.0";
    private const string CrossAttention = Attention + ".transformer_blocks.0.attn2";
    private const string SelfAttention = "text_model.encoder.layers.0.self_attn";

    /// <summary>Every LoRA-patchable weight, in graph order: what <see cref="TestLoraMaker"/> writes keys for.</summary>
    public static readonly IReadOnlyList<PatchableModule> Modules =
    [
        new(LoraComponent.Unet, "time_embedding.linear_1", "time_embedding.linear_1.weight", "Gemm", TimeChannels, TimeProjection, 1, WeightLayout.OutIn),
        new(LoraComponent.Unet, "down_blocks.0.resnets.0.conv1", "down_blocks.0.resnets.0.conv1.weight", "Conv", Channels, LatentChannels, 3, WeightLayout.OutIn),
        new(LoraComponent.Unet, "down_blocks.0.resnets.0.time_emb_proj", "onnx::Gemm_501", "Gemm", Channels, TimeChannels, 1, WeightLayout.InOut),
        new(LoraComponent.Unet, $"{Attention}.proj_in", $"{Attention}.proj_in.weight", "Conv", Channels, Channels, 1, WeightLayout.OutIn),
        new(LoraComponent.Unet, $"{CrossAttention}.to_q", "onnx::MatMul_601", "MatMul", Channels, Channels, 1, WeightLayout.InOut),
        new(LoraComponent.Unet, $"{CrossAttention}.to_k", "onnx::MatMul_602", "MatMul", Channels, Hidden, 1, WeightLayout.InOut),
        new(LoraComponent.Unet, $"{CrossAttention}.to_v", "onnx::MatMul_603", "MatMul", Channels, Hidden, 1, WeightLayout.InOut),
        new(LoraComponent.Unet, $"{CrossAttention}.to_out.0", "onnx::MatMul_604", "MatMul", Channels, Channels, 1, WeightLayout.InOut),
        new(LoraComponent.Unet, "conv_out", "conv_out.weight", "Conv", LatentChannels, Channels, 3, WeightLayout.OutIn),
        new(LoraComponent.TextEncoder, $"{SelfAttention}.q_proj", "onnx::MatMul_701", "MatMul", Hidden, Hidden, 1, WeightLayout.InOut),
        new(LoraComponent.TextEncoder, $"{SelfAttention}.out_proj", "onnx::MatMul_702", "MatMul", Hidden, Hidden, 1, WeightLayout.InOut),
    ];

    // Stable Diffusion 1.5's own scheduler config (PNDM); the engine reads its betas as LCMScheduler.from_config would.
    internal static readonly object SchedulerConfig = new
    {
        _class_name = "PNDMScheduler",
        _diffusers_version = "0.6.0",
        beta_end = 0.012,
        beta_schedule = "scaled_linear",
        beta_start = 0.00085,
        num_train_timesteps = 1000,
        set_alpha_to_one = false,
        skip_prk_steps = true,
        steps_offset = 1,
        trained_betas = (double[]?)null,
        clip_sample = false,
    };

    internal static readonly object ModelIndex = new
    {
        _class_name = "StableDiffusionPipeline",
        _diffusers_version = "0.22.0",
        feature_extractor = new string?[] { null, null },
        requires_safety_checker = false,
        safety_checker = new string?[] { null, null },
        scheduler = new[] { "diffusers", "PNDMScheduler" },
        text_encoder = new[] { "transformers", "CLIPTextModel" },
        tokenizer = new[] { "transformers", "CLIPTokenizer" },
        unet = new[] { "diffusers", "UNet2DConditionModel" },
        vae_decoder = new[] { "diffusers", "AutoencoderKL" },
        vae_encoder = new[] { "diffusers", "AutoencoderKL" },
    };

    /// <summary>One self-attention-like layer on the embeddings: hidden = tanh(x + out_proj(tanh(q_proj(x)))).</summary>
    internal static string TextEncoderLayer(GraphBuilder g, TestModelOptions options, string embeddings)
    {
        string q = Linear(g, options, null, embeddings, "q_proj");
        string o = Linear(g, options, null, g.Node("Tanh", [q]), "out_proj");
        return g.Node("Tanh", [g.Node("Add", [embeddings, o])]);
    }

    /// <summary>
    /// A resnet-like conv with a time term, one cross-attention block on the text, and conv_out; the
    /// output is mostly the sample itself, as in <see cref="TestModelMaker"/>, so latents stay latent-sized.
    /// </summary>
    internal static void WriteUnetGraph(GraphBuilder g, TestModelOptions options, Dim batch, string directory)
    {
        string dataPath = Path.Combine(directory, "model.onnx_data");
        File.Delete(dataPath);
        using var external = options.Float16 ? null : new ExternalDataFile(dataPath);

        string sample = g.FloatInput("sample", batch, LatentChannels, "height", "width");
        string timestep = TestModelMaker.TimestepInput(g, options.Float16);
        string text = g.FloatInput("encoder_hidden_states", batch, 77, Hidden);

        // Timesteps run to 999: a small projection keeps the time embedding near ±1.
        string time = g.Node("Mul", [g.Node("Reshape", [timestep, g.Int64s(1, 1)]), g.Weight("time_proj", [1, TimeProjection], 0.001f)]);
        string timeEmbedding = g.Node("Tanh", [Gemm(g, options, external, time, "time_embedding.linear_1")]);

        string resnet = Conv(g, options, external, sample, "down_blocks.0.resnets.0.conv1");
        string timeTerm = g.Node("Unsqueeze", [Gemm(g, options, external, timeEmbedding, "down_blocks.0.resnets.0.time_emb_proj"), g.Int64s(2, 3)]);
        string hidden = g.Node("Tanh", [g.Node("Add", [resnet, timeTerm])]);

        string projected = Conv(g, options, external, hidden, $"{Attention}.proj_in");
        string sequence = g.Node("Transpose", [g.Node("Reshape", [projected, g.Int64s(0, Channels, -1)])], IntsAttribute("perm", 0L, 2L, 1L));
        string attended = g.Node("Add", [sequence, ExportedLayers.CrossAttention(g, options, external, Modules, CrossAttention, sequence, text)]);
        string spatial = g.Node("Reshape", [g.Node("Transpose", [attended], IntsAttribute("perm", 0L, 2L, 1L)), g.Node("Shape", [projected])]);

        string term = g.Node("Tanh", [Conv(g, options, external, g.Node("Tanh", [spatial]), "conv_out")]);
        string noise = g.Node("Add", [g.Node("Mul", [sample, g.Scalar(0.8f)]), g.Node("Mul", [term, g.Scalar(0.5f)])]);
        g.FloatOutput("out_sample", noise, batch, LatentChannels, "height", "width");
    }

    private static PatchableModule Module(string pathOrSuffix) =>
        Modules.Single(m => m.Path == pathOrSuffix || m.Path.EndsWith("." + pathOrSuffix, StringComparison.Ordinal));

    private static string Linear(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, string input, string name) =>
        ExportedLayers.Linear(g, options, external, input, Module(name));

    private static string Gemm(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, string input, string name) =>
        ExportedLayers.Gemm(g, options, external, input, Module(name));

    private static string Conv(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, string input, string name) =>
        ExportedLayers.Conv(g, options, external, input, Module(name));
}
