using DataType = Onnx.TensorProto.Types.DataType;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels.Architectures;

/// <summary>
/// CLIP ViT-L/14's text tower as transformers' <c>CLIPTextModel</c> (about 123M parameters): token and
/// position embeddings, 12 pre-LayerNorm layers of causal 12-head self-attention and a quick_gelu MLP,
/// the final LayerNorm; <c>pooler_output</c> is the final state at each text's end token, the largest
/// id (argmax of input_ids, as transformers picks it for CLIP-L). Inputs and outputs are those of the
/// SD 1.5 test text encoder.
/// </summary>
internal static class ClipTextArchitecture
{
    /// <summary>The hidden width, which the UNet's cross-attention takes.</summary>
    public const int Hidden = 768;
    private const int Layers = 12, Heads = 12, Tokens = 77, VocabularySize = 49408;

    public static void Write(string directory, ArchitectureOptions options, Dim batch, int tokenizerVocabularySize) =>
        ArchitectureModelMaker.WriteGraph(directory, options,
            TestModelMaker.ClipTextConfig(options.Width(Hidden), Heads, Layers, VocabularySize, tokenizerVocabularySize, options.Float16),
            layers => WriteGraph(layers, options, batch));

    private static void WriteGraph(NetworkLayers layers, ArchitectureOptions options, Dim batch)
    {
        var g = layers.Graph;
        int hidden = options.Width(Hidden);
        string ids = g.Input("input_ids", DataType.Int32, batch, Tokens);
        string tokens = g.Node("Gather", [layers.Embedding("text_model.embeddings.token_embedding", VocabularySize, hidden), ids]);
        string x = g.Node("Add", [tokens, layers.Embedding("text_model.embeddings.position_embedding", Tokens, hidden)]);

        // Each token attends to itself and those before it; float.MinValue as transformers uses finfo.min.
        float[] causal = new float[Tokens * Tokens];
        for (int row = 0; row < Tokens; row++)
            for (int column = row + 1; column < Tokens; column++)
                causal[row * Tokens + column] = float.MinValue;
        string mask = g.Constant(causal, Tokens, Tokens);

        for (int i = 0; i < Layers; i++)
        {
            string layer = $"text_model.encoder.layers.{i}";
            string normed = layers.LayerNorm($"{layer}.layer_norm1", x, hidden);
            x = g.Node("Add", [x, layers.Attention(AttentionProjections.Clip($"{layer}.self_attn"), normed, normed, hidden, hidden, Heads, qkvBias: true, mask)]);
            string inner = layers.QuickGelu(layers.Linear($"{layer}.mlp.fc1", layers.LayerNorm($"{layer}.layer_norm2", x, hidden), hidden, 4 * hidden));
            x = g.Node("Add", [x, layers.Linear($"{layer}.mlp.fc2", inner, 4 * hidden, hidden)]);
        }
        string last = layers.LayerNorm("text_model.final_layer_norm", x, hidden);
        g.FloatOutput("last_hidden_state", last, batch, Tokens, hidden);

        // ArgMax has no int32 kernel on every provider; ids below 2^24 are exact in float32.
        string end = g.Node("ArgMax", [g.Node("Cast", [ids], IntAttribute("to", (long)DataType.Float))], IntAttribute("axis", 1L), IntAttribute("keepdims", 1L));
        g.FloatOutput("pooler_output", g.Node("GatherND", [last, end], IntAttribute("batch_dims", 1L)), batch, hidden);
    }
}
