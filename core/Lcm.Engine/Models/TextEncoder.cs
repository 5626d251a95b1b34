using Lcm.Engine.Loaders;
using Lcm.Engine.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>The CLIP text encoder graph: token ids [batch, 77] to <c>last_hidden_state</c> [batch, 77, hidden].</summary>
public sealed class TextEncoder : IDisposable
{
    private readonly OnnxGraph _graph;
    private readonly TensorElementType _idsType;
    private readonly int? _fixedBatch;

    public TextEncoder(OnnxGraph graph)
    {
        _graph = graph;
        var ids = graph.RequireInput("input_ids", [TensorElementType.Int32, TensorElementType.Int64], 2);
        _idsType = ids.ElementDataType;
        _fixedBatch = OnnxGraph.FixedDimension(ids, 0);
        var hidden = graph.RequireOutput("last_hidden_state", OnnxGraph.FloatTypes, 3);
        HiddenSize = OnnxGraph.FixedDimension(hidden, 2);
    }

    /// <summary>The width of the hidden states, when the graph fixes it.</summary>
    public int? HiddenSize { get; }

    public OnnxGraph Graph => _graph;

    /// <summary>Encodes each prompt's ids; returns the hidden states of all prompts back to back.</summary>
    public float[] Encode(IReadOnlyList<int[]> prompts, RunOptions runOptions)
    {
        int batch = _fixedBatch ?? prompts.Count;
        var parts = new List<float[]>();
        for (int start = 0; start < prompts.Count; start += batch)
        {
            var chunk = prompts.Skip(start).Take(batch).ToArray();
            long[] ids = chunk.SelectMany(p => p.Select(id => (long)id)).ToArray();
            using var input = OnnxGraph.NumberTensor(ids, [chunk.Length, ClipTokenizer.MaxLength], _idsType);
            parts.Add(_graph.Run(new Dictionary<string, OrtValue> { ["input_ids"] = input }, "last_hidden_state", runOptions));
        }
        return parts.Count == 1 ? parts[0] : parts.SelectMany(p => p).ToArray();
    }

    public void Dispose() => _graph.Dispose();
}
