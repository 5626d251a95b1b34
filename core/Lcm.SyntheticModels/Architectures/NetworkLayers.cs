using Lcm.Engine.Loaders.Lora;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>The four projections of one attention module, as diffusers (<c>to_q</c>) or CLIP (<c>q_proj</c>) names them.</summary>
internal readonly record struct AttentionProjections(string Query, string Key, string Value, string Output)
{
    public static AttentionProjections Diffusers(string path) => new($"{path}.to_q", $"{path}.to_k", $"{path}.to_v", $"{path}.to_out.0");

    public static AttentionProjections Clip(string path) => new($"{path}.q_proj", $"{path}.k_proj", $"{path}.v_proj", $"{path}.out_proj");
}

/// <summary>
/// The layers diffusers and transformers build their models from, written as exporters write them
/// (<see cref="ExportedLayers"/>): nodes scoped by module, Conv, Gemm and norm weights under their
/// state-dict names, Linear layers as MatMuls on transposed <c>onnx::MatMul_N</c> weights, the large
/// weights in the graph's external data file. Weights are seeded with variance 1/fan_in and norm
/// scales near 1, so activations keep about unit size through a whole network of random weights.
/// </summary>
internal sealed class NetworkLayers(GraphBuilder g, ExternalDataFile external, int groups)
{
    // These models carry no merged LoRA deltas, the only thing a module's component keys.
    private static readonly TestModelOptions NoDeltas = new();
    private const LoraComponent AnyComponent = default;

    private int nextMatMul;

    public GraphBuilder Graph => g;

    public string Conv(string path, string input, int inChannels, int outChannels, int kernel = 3, long stride = 1, bool padded = true) =>
        ExportedLayers.Conv(g, NoDeltas, external, input, Module(path, $"{path}.weight", "Conv", inChannels, outChannels, kernel, WeightLayout.OutIn), stride, padded);

    /// <summary>A Linear on a [..., features] input: a MatMul on the transposed weight, plus its bias unless <paramref name="bias"/> is false.</summary>
    public string Linear(string path, string input, int inFeatures, int outFeatures, bool bias = true)
    {
        var module = Module(path, $"onnx::MatMul_{nextMatMul++}", "MatMul", inFeatures, outFeatures, 1, WeightLayout.InOut);
        return bias ? ExportedLayers.LinearWithBias(g, NoDeltas, external, input, module) : ExportedLayers.Linear(g, NoDeltas, external, input, module);
    }

    /// <summary>A Linear on a [batch, features] input, which exporters write as a Gemm on the [out, in] weight.</summary>
    public string Gemm(string path, string input, int inFeatures, int outFeatures) =>
        ExportedLayers.Gemm(g, NoDeltas, external, input, Module(path, $"{path}.weight", "Gemm", inFeatures, outFeatures, 1, WeightLayout.OutIn));

    /// <summary>An embedding table of unit-scale rows (a LayerNorm follows wherever it is read).</summary>
    public string Embedding(string path, int rows, int width) => g.Weight($"{path}.weight", [rows, width], 1f, external);

    /// <summary>
    /// GroupNorm as PyTorch exports it below opset 18: InstanceNormalization of [batch, groups, -1], then the
    /// per-channel scale and shift. The opset stays that of the other test graphs.
    /// </summary>
    public string GroupNorm(string path, string input, int channels, float epsilon)
    {
        string grouped = g.Node("Reshape", [input, g.Int64s(0, groups, -1)]);
        string normalized = g.ScopedNode($"{ExportedLayers.Scope(path)}/InstanceNormalization", "InstanceNormalization",
            [grouped, g.Constant(Enumerable.Repeat(1f, groups).ToArray(), groups), g.Constant(new float[groups], groups)], FloatAttribute("epsilon", epsilon));
        string restored = g.Node("Reshape", [normalized, g.Node("Shape", [input])]);
        string scale = g.Node("Unsqueeze", [NormScale(path, channels), g.Int64s(1, 2)]);
        string shift = g.Node("Unsqueeze", [NormShift(path, channels), g.Int64s(1, 2)]);
        return g.Node("Add", [g.Node("Mul", [restored, scale]), shift]);
    }

    public string LayerNorm(string path, string input, int features, float epsilon = 1e-5f) =>
        g.ScopedNode($"{ExportedLayers.Scope(path)}/LayerNormalization", "LayerNormalization", [input, NormScale(path, features), NormShift(path, features)],
            IntAttribute("axis", -1L), FloatAttribute("epsilon", epsilon));

    public string Silu(string x) => g.Node("Mul", [x, g.Node("Sigmoid", [x])]);

    /// <summary>PyTorch's exact GELU, x/2 (1 + erf(x/sqrt 2)); opset 17 has no Gelu op.</summary>
    public string Gelu(string x) =>
        g.Node("Mul", [g.Node("Mul", [x, g.Scalar(0.5f)]), g.Node("Add", [g.Node("Erf", [g.Node("Mul", [x, g.Scalar(1f / MathF.Sqrt(2f))])]), g.Scalar(1f)])]);

    /// <summary>CLIP's quick_gelu, x sigmoid(1.702 x).</summary>
    public string QuickGelu(string x) => g.Node("Mul", [x, g.Node("Sigmoid", [g.Node("Mul", [x, g.Scalar(1.702f)])])]);

    /// <summary>
    /// Multi-head attention of a [batch, tokens, dim] sequence on <paramref name="context"/> (the sequence itself for
    /// self-attention), <paramref name="mask"/> added to the scores. Attention weights are activations, not parameters.
    /// </summary>
    public string Attention(AttentionProjections paths, string sequence, string context, int dim, int contextDim, int heads, bool qkvBias, string? mask = null)
    {
        // Scaling the queries instead of the scores: the same result on a much smaller tensor.
        string q = Heads(g.Node("Mul", [Linear(paths.Query, sequence, dim, dim, qkvBias), g.Scalar(1f / MathF.Sqrt(dim / heads))]), heads, [0, 2, 1, 3]);
        string k = Heads(Linear(paths.Key, context, contextDim, dim, qkvBias), heads, [0, 2, 3, 1]);
        string v = Heads(Linear(paths.Value, context, contextDim, dim, qkvBias), heads, [0, 2, 1, 3]);
        string scores = g.Node("MatMul", [q, k]);
        if (mask != null) scores = g.Node("Add", [scores, mask]);
        string mixed = g.Node("MatMul", [g.Node("Softmax", [scores], IntAttribute("axis", -1L)), v]);
        string merged = g.Node("Reshape", [g.Node("Transpose", [mixed], IntsAttribute("perm", 0, 2, 1, 3)), g.Int64s(0, 0, -1)]);
        return Linear(paths.Output, merged, dim, dim);
    }

    /// <summary>
    /// diffusers' ResnetBlock2D: GroupNorm, SiLU, conv, plus the projected time embedding where there is one
    /// (<paramref name="activatedTime"/>, already through SiLU), GroupNorm, SiLU, conv, and the input added back,
    /// through a 1x1 conv where the channels change.
    /// </summary>
    public string Resnet(string path, string input, int inChannels, int outChannels, float epsilon, string? activatedTime = null, int timeChannels = 0)
    {
        string h = Conv($"{path}.conv1", Silu(GroupNorm($"{path}.norm1", input, inChannels, epsilon)), inChannels, outChannels);
        if (activatedTime != null)
            h = g.Node("Add", [h, g.Node("Unsqueeze", [Gemm($"{path}.time_emb_proj", activatedTime, timeChannels, outChannels), g.Int64s(2, 3)])]);
        h = Conv($"{path}.conv2", Silu(GroupNorm($"{path}.norm2", h, outChannels, epsilon)), outChannels, outChannels);
        string shortcut = inChannels == outChannels ? input : Conv($"{path}.conv_shortcut", input, inChannels, outChannels, kernel: 1);
        return g.Node("Add", [shortcut, h]);
    }

    /// <summary>
    /// diffusers' Transformer2DModel: GroupNorm, proj_in (a 1x1 conv in SD 1.5, a Linear on the sequence in
    /// SDXL: <paramref name="linearProjection"/>); <paramref name="depth"/> BasicTransformerBlocks of
    /// self-attention, cross-attention on the text and a GEGLU feed-forward, each after a LayerNorm and
    /// added back; proj_out; the input added back.
    /// </summary>
    public string SpatialTransformer(string path, string input, int channels, int heads, string text, int textWidth, int depth, bool linearProjection)
    {
        string normed = GroupNorm($"{path}.norm", input, channels, 1e-6f);
        string sequence = linearProjection
            ? Linear($"{path}.proj_in", ToSequence(normed, channels), channels, channels)
            : ToSequence(Conv($"{path}.proj_in", normed, channels, channels, kernel: 1), channels);
        for (int i = 0; i < depth; i++)
        {
            string block = $"{path}.transformer_blocks.{i}";
            string x = LayerNorm($"{block}.norm1", sequence, channels);
            sequence = g.Node("Add", [sequence, Attention(AttentionProjections.Diffusers($"{block}.attn1"), x, x, channels, channels, heads, qkvBias: false)]);
            x = LayerNorm($"{block}.norm2", sequence, channels);
            sequence = g.Node("Add", [sequence, Attention(AttentionProjections.Diffusers($"{block}.attn2"), x, text, channels, textWidth, heads, qkvBias: false)]);
            sequence = g.Node("Add", [sequence, GegluFeedForward($"{block}.ff", LayerNorm($"{block}.norm3", sequence, channels), channels)]);
        }
        string output = linearProjection
            ? ToSpatial(Linear($"{path}.proj_out", sequence, channels, channels), input)
            : Conv($"{path}.proj_out", ToSpatial(sequence, input), channels, channels, kernel: 1);
        return g.Node("Add", [input, output]);
    }

    /// <summary>diffusers' Upsample2D with a conv: nearest 2x, then a 3x3 conv.</summary>
    public string Upsample(string path, string input, int channels) =>
        Conv($"{path}.conv", g.Node("Resize", [input, "", g.Constant([1f, 1f, 2f, 2f], 4)]), channels, channels);

    /// <summary>[batch, channels, h, w] as the [batch, h*w, channels] sequence that attention takes.</summary>
    public string ToSequence(string x, int channels) =>
        g.Node("Transpose", [g.Node("Reshape", [x, g.Int64s(0, channels, -1)])], IntsAttribute("perm", 0, 2, 1));

    /// <summary>A [batch, h*w, channels] sequence back in the [batch, channels, h, w] shape of <paramref name="like"/>.</summary>
    public string ToSpatial(string sequence, string like) =>
        g.Node("Reshape", [g.Node("Transpose", [sequence], IntsAttribute("perm", 0, 2, 1)), g.Node("Shape", [like])]);

    /// <summary>GEGLU: a Linear to twice the inner width, split into value and gate, value * gelu(gate), then a Linear back.</summary>
    private string GegluFeedForward(string path, string input, int dim)
    {
        int inner = 4 * dim;
        string projected = Linear($"{path}.net.0.proj", input, dim, 2 * inner);
        string value = g.Node("Slice", [projected, g.Int64s(0), g.Int64s(inner), g.Int64s(-1)]);
        string gate = g.Node("Slice", [projected, g.Int64s(inner), g.Int64s(2 * inner), g.Int64s(-1)]);
        return Linear($"{path}.net.2", g.Node("Mul", [value, Gelu(gate)]), inner, dim);
    }

    /// <summary>[batch, heads, tokens, head width] (or, with perm 0 2 3 1, [batch, heads, head width, tokens]) from [batch, tokens, dim].</summary>
    private string Heads(string x, int heads, long[] perm) =>
        g.Node("Transpose", [g.Node("Reshape", [x, g.Int64s(0, 0, heads, -1)])], IntsAttribute("perm", perm));

    private string NormScale(string path, int features) =>
        g.Weight($"{path}.weight", [features], g.SeededValues($"{path}.weight", features, 0.1f).Select(v => 1f + v).ToArray());

    private string NormShift(string path, int features) => g.Weight($"{path}.bias", [features], 0.1f);

    private static PatchableModule Module(string path, string weightName, string opType, int inFeatures, int outFeatures, int kernel, WeightLayout layout) =>
        new(AnyComponent, path, weightName, opType, outFeatures, inFeatures, kernel, layout);
}
