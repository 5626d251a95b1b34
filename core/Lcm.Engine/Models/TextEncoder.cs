using System.Globalization;
using Lcm.Engine.Loaders;
using Lcm.Engine.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>One text encoder's output for a batch of prompts, back to back: hidden states [batch, 77, hidden] and, where asked for, the pooled embedding [batch, pooled].</summary>
public sealed record TextEncoderOutput(float[] Hidden, float[]? Pooled);

/// <summary>
/// A CLIP text encoder graph: token ids [batch, 77] to the hidden states the UNet is conditioned on.
/// SD 1.5 takes <c>last_hidden_state</c>; SDXL the penultimate layer's <c>hidden_states.{N-1}</c>
/// (diffusers' <c>hidden_states[-2]</c>) and, from its second encoder, the pooled <c>text_embeds</c>.
/// </summary>
public sealed class TextEncoder : IDisposable
{
    private const string HiddenStatesPrefix = "hidden_states.";
    private readonly OnnxGraph _graph;
    private readonly TensorElementType _idsType;
    private readonly int? _fixedBatch;
    private readonly string[] _outputs;

    /// <param name="penultimate">Take the penultimate hidden state instead of <c>last_hidden_state</c>.</param>
    /// <param name="pooled">Also return <c>text_embeds</c>, the projected pooled embedding.</param>
    public TextEncoder(OnnxGraph graph, bool penultimate = false, bool pooled = false)
    {
        _graph = graph;
        var ids = graph.RequireInput("input_ids", [TensorElementType.Int32, TensorElementType.Int64], 2);
        _idsType = ids.ElementDataType;
        _fixedBatch = OnnxGraph.FixedDimension(ids, 0);
        string hiddenName = penultimate ? PenultimateHiddenState(graph) : "last_hidden_state";
        var hidden = graph.RequireOutput(hiddenName, OnnxGraph.FloatTypes, 3);
        HiddenSize = OnnxGraph.FixedDimension(hidden, 2);
        _outputs = [hiddenName];
        if (!pooled) return;
        PooledSize = OnnxGraph.FixedDimension(graph.RequireOutput("text_embeds", OnnxGraph.FloatTypes, 2), 1);
        _outputs = [hiddenName, "text_embeds"];
    }

    /// <summary>The width of the hidden states, when the graph fixes it.</summary>
    public int? HiddenSize { get; }

    /// <summary>The width of <c>text_embeds</c>, when asked for and fixed by the graph.</summary>
    public int? PooledSize { get; }

    public OnnxGraph Graph => _graph;

    /// <summary>Encodes each prompt's ids; returns the outputs of all prompts back to back.</summary>
    public TextEncoderOutput Encode(IReadOnlyList<int[]> prompts, RunOptions runOptions)
    {
        int batch = _fixedBatch ?? prompts.Count;
        var parts = new List<float[][]>();
        for (int start = 0; start < prompts.Count; start += batch)
        {
            var chunk = prompts.Skip(start).Take(batch).ToArray();
            long[] ids = chunk.SelectMany(p => p.Select(id => (long)id)).ToArray();
            using var input = OnnxGraph.NumberTensor(ids, [chunk.Length, ClipTokenizer.MaxLength], _idsType);
            parts.Add(_graph.Run(new Dictionary<string, OrtValue> { ["input_ids"] = input }, _outputs, runOptions));
        }
        float[] Joined(int output) => parts.Count == 1 ? parts[0][output] : parts.SelectMany(p => p[output]).ToArray();
        return new TextEncoderOutput(Joined(0), _outputs.Length > 1 ? Joined(1) : null);
    }

    public void Dispose() => _graph.Dispose();

    /// <summary>hidden_states.0 is the embeddings and hidden_states.N the last layer's, so N - 1 is the penultimate layer.</summary>
    private static string PenultimateHiddenState(OnnxGraph graph)
    {
        int[] layers = graph.Session.OutputMetadata.Keys
            .Where(name => name.StartsWith(HiddenStatesPrefix, StringComparison.Ordinal))
            .Select(name => int.TryParse(name[HiddenStatesPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : -1)
            .Where(i => i >= 0)
            .ToArray();
        if (layers.Length < 2)
            throw new ModelFormatException($"'{graph.Path}' has no outputs hidden_states.0..N (found {string.Join(", ", graph.Session.OutputMetadata.Keys)}); " +
                "SDXL conditions on the penultimate hidden state: export the pipeline with optimum, which adds them");
        return HiddenStatesPrefix + (layers.Max() - 1).ToString(CultureInfo.InvariantCulture);
    }
}
