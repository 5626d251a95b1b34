using DataType = Onnx.TensorProto.Types.DataType;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>
/// A CLIP text tower's sizes and how its export presents it: the activation (CLIP-L's quick_gelu,
/// OpenCLIP bigG's gelu), the text projection of <c>CLIPTextModelWithProjection</c>, the
/// <c>hidden_states.N</c> outputs of SDXL exports, and the type of <c>input_ids</c>.
/// </summary>
internal sealed record ClipTextShape(int Hidden, int Layers, int Heads, bool QuickGelu, bool Projection, bool HiddenStates, DataType Ids)
{
    /// <summary>openai/clip-vit-large-patch14's text model in an SD 1.5 export (about 123M parameters).</summary>
    public static readonly ClipTextShape Sd15 = new(768, 12, 12, QuickGelu: true, Projection: false, HiddenStates: false, DataType.Int32);

    /// <summary>The same CLIP-L as SDXL's text_encoder, with its hidden states.</summary>
    public static readonly ClipTextShape SdxlFirst = Sd15 with { HiddenStates = true, Ids = DataType.Int64 };

    /// <summary>OpenCLIP ViT-bigG's text model with its projection, SDXL's text_encoder_2 (about 695M parameters).</summary>
    public static readonly ClipTextShape SdxlSecond = new(1280, 32, 20, QuickGelu: false, Projection: true, HiddenStates: true, DataType.Int64);
}

/// <summary>
/// A CLIP text tower as transformers' <c>CLIPTextModel</c> (or <c>...WithProjection</c>): token and position
/// embeddings, pre-LayerNorm layers of causal self-attention and an MLP, the final LayerNorm; the pooled
/// state is the final state at each text's end token, the largest id (argmax of input_ids, as
/// transformers picks it for these models). Inputs and outputs, in their order, are those of the test
/// text encoders of the family.
/// </summary>
internal static class ClipTextArchitecture
{
    private const int Tokens = 77, VocabularySize = 49408;

    public static void Write(string directory, ArchitectureOptions options, Dim batch, int tokenizerVocabularySize, ClipTextShape shape) =>
        ArchitectureModelMaker.WriteGraph(directory, options,
            TestModelMaker.ClipTextConfig(options.Width(shape.Hidden), shape.Heads, shape.Layers, VocabularySize, tokenizerVocabularySize, options.Float16,
                shape.Projection ? options.Width(shape.Hidden) : null),
            layers => WriteGraph(layers, options, batch, shape));

    private static void WriteGraph(NetworkLayers layers, ArchitectureOptions options, Dim batch, ClipTextShape shape)
    {
        var g = layers.Graph;
        int hidden = options.Width(shape.Hidden);
        string ids = g.Input("input_ids", shape.Ids, batch, Tokens);
        string tokens = g.Node("Gather", [layers.Embedding("text_model.embeddings.token_embedding", VocabularySize, hidden), ids]);
        string x = g.Node("Add", [tokens, layers.Embedding("text_model.embeddings.position_embedding", Tokens, hidden)]);

        // Each token attends to itself and those before it; float.MinValue as transformers uses finfo.min.
        float[] causal = new float[Tokens * Tokens];
        for (int row = 0; row < Tokens; row++)
            for (int column = row + 1; column < Tokens; column++)
                causal[row * Tokens + column] = float.MinValue;
        string mask = g.Constant(causal, Tokens, Tokens);

        var states = new List<string> { x };
        for (int i = 0; i < shape.Layers; i++)
        {
            string layer = $"text_model.encoder.layers.{i}";
            string normed = layers.LayerNorm($"{layer}.layer_norm1", x, hidden);
            x = g.Node("Add", [x, layers.Attention(AttentionProjections.Clip($"{layer}.self_attn"), normed, normed, hidden, hidden, shape.Heads, qkvBias: true, mask)]);
            string inner = layers.Linear($"{layer}.mlp.fc1", layers.LayerNorm($"{layer}.layer_norm2", x, hidden), hidden, 4 * hidden);
            x = g.Node("Add", [x, layers.Linear($"{layer}.mlp.fc2", shape.QuickGelu ? layers.QuickGelu(inner) : layers.Gelu(inner), 4 * hidden, hidden)]);
            states.Add(x);
        }
        string last = layers.LayerNorm("text_model.final_layer_norm", x, hidden);

        // ArgMax has no int32 kernel on every provider; ids below 2^24 are exact in float32.
        string end = g.Node("ArgMax", [g.Node("Cast", [ids], IntAttribute("to", (long)DataType.Float))], IntAttribute("axis", 1L), IntAttribute("keepdims", 1L));
        string pooled = g.Node("GatherND", [last, end], IntAttribute("batch_dims", 1L));
        if (shape.Projection)
        {
            g.FloatOutput("text_embeds", layers.Linear("text_projection", pooled, hidden, hidden, bias: false), batch, hidden);
            g.FloatOutput("last_hidden_state", last, batch, Tokens, hidden);
        }
        else
        {
            g.FloatOutput("last_hidden_state", last, batch, Tokens, hidden);
            g.FloatOutput("pooler_output", pooled, batch, hidden);
        }
        if (!shape.HiddenStates) return;
        for (int i = 0; i < states.Count; i++) g.FloatOutput($"hidden_states.{i}", states[i], batch, Tokens, hidden);
    }
}
