using System.Diagnostics;
using Google.Protobuf;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Memory;
using Microsoft.Extensions.Logging;
using Onnx;

namespace Lcm.Engine.Loaders;

/// <summary>
/// Memory-efficient attention for graphs that compute it unfused, as optimum's exports do:
/// MatMul(Q, Kᵀ) → (Mul or Div by a constant) → Softmax(axis -1) → MatMul(·, V) holds the whole
/// [batch, heads, tokens, tokens] matrix, gigabytes at large sizes. Each such pattern becomes an ONNX
/// <c>Loop</c> over blocks of query rows (axis -2) that computes the same four nodes on one block and
/// concatenates the blocks' outputs: softmax is row-wise, so the result is the unsplit one up to float
/// rounding, and only one block's [batch, heads, block, tokens] scores are alive at a time.
///
/// Why a Loop rather than Split + Concat: a Loop's iterations run one after another by definition,
/// where ONNX Runtime may schedule every split block's MatMul before their Softmaxes and keep them all
/// alive; and the trip count, ceil(tokens / block), is computed in the graph from Q's shape, so one
/// graph serves every size (the UNet's spatial sizes are dynamic) and attention no longer than a block
/// runs in one iteration, as before. com.microsoft.MultiHeadAttention was not taken: it needs the
/// head count and the [batch, tokens, hidden] layout traced out of each exporter's reshapes.
/// Sliced graphs are cached like the int8 ones, by the block and the source graph's fingerprint.
/// </summary>
internal sealed class AttentionSlicer(string directory, ILogger logger)
{
    /// <summary>LCM_ATTENTION_SLICING=auto: SD 1.5's widest level at 512x512 is 4096 tokens, one block.</summary>
    public const int AutoBlockTokens = 4096;
    public const int AlwaysBlockTokens = 1024;
    private const int FormatVersion = 1;
    private const string Prefix = "attention_slicing";

    private readonly CacheEntries _entries = new(directory, logger);

    public static int? BlockTokens(AttentionSlicingMode mode) => mode switch
    {
        AttentionSlicingMode.Auto => AutoBlockTokens,
        AttentionSlicingMode.Always => AlwaysBlockTokens,
        _ => null,
    };

    /// <summary>The sliced copy of <paramref name="sourceGraph"/>, written first when missing; the source itself when it has no unfused attention.</summary>
    public string GetOrSlice(string sourceGraph, int blockTokens)
    {
        string graph = Path.GetFileName(Path.GetDirectoryName(sourceGraph)!);
        string key = $"{graph}-{PreparedModelCache.Hash($"attention v{FormatVersion}|block {blockTokens}|{PreparedModelCache.Fingerprint(sourceGraph)}")}";
        string entry = _entries.GetOrCreate(key, folder => Write(sourceGraph, folder, blockTokens));
        string sliced = Path.Combine(entry, Path.GetFileName(sourceGraph));
        return File.Exists(sliced) ? sliced : sourceGraph;
    }

    private void Write(string sourceGraph, string folder, int blockTokens)
    {
        var started = Stopwatch.StartNew();
        ModelProto model;
        using (var stream = File.OpenRead(sourceGraph)) model = ModelProto.Parser.ParseFrom(stream);
        int count = Rewrite(model, blockTokens).Count;
        if (count == 0)
        {
            logger.LogInformation("{Source} has no unfused attention to split; it runs as it is", sourceGraph);
            return;
        }
        InitializerData.CopyExternalFiles(model.Graph, Path.GetDirectoryName(sourceGraph)!, folder);
        using (var output = File.Create(Path.Combine(folder, Path.GetFileName(sourceGraph)))) model.WriteTo(output);
        logger.LogInformation("Split {Count} attentions of {Source} into blocks of {Block} query tokens in {Ms:F0} ms", count, sourceGraph, blockTokens, started.Elapsed.TotalMilliseconds);
    }

    /// <summary>Rewrites every unfused attention of the main graph in place; the names of the Softmax nodes it replaced.</summary>
    internal static List<string> Rewrite(ModelProto model, int blockTokens)
    {
        var graph = model.Graph;
        long opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0;
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (string output in node.Output) producers[output] = node;
            foreach (string input in node.Input) uses[input] = uses.GetValueOrDefault(input) + 1;
        }
        foreach (var output in graph.Output) uses[output.Name] = uses.GetValueOrDefault(output.Name) + 1;
        var constants = new HashSet<string>(graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        constants.UnionWith(graph.Node.Where(n => n.OpType == "Constant").SelectMany(n => n.Output));
        NodeProto? OnlyConsumer(string name) => uses.GetValueOrDefault(name) == 1 ? graph.Node.FirstOrDefault(n => n.Input.Contains(name)) : null;
        NodeProto? Standard(string name, params string[] types) =>
            producers.TryGetValue(name, out var node) && node.Domain is "" or "ai.onnx" && types.Contains(node.OpType) ? node : null;

        var rewritten = new List<string>();
        foreach (var softmax in graph.Node.Where(n => n.OpType == "Softmax" && n.Domain is "" or "ai.onnx").ToList())
        {
            // Rows are split along axis -2, so the softmax must be over the last axis: axis -1, or opset 13's default.
            var axis = softmax.Attribute.FirstOrDefault(a => a.Name == "axis");
            if (axis is null ? opset < 13 : axis.I != -1) continue;
            var scale = Standard(softmax.Input[0], "Mul", "Div");
            if (scale is not null && !(scale.Input.Count == 2 && constants.Contains(scale.Input[1]) && OnlyConsumer(scale.Output[0]) == softmax)) continue;
            var scores = Standard(scale?.Input[0] ?? softmax.Input[0], "MatMul");
            if (scores is null || OnlyConsumer(scores.Output[0]) != (scale ?? softmax)) continue;
            if (OnlyConsumer(softmax.Output[0]) is not { OpType: "MatMul", Domain: "" or "ai.onnx" } mixed || mixed.Input[0] != softmax.Output[0]) continue;
            // In mixed's place, after Q, Kᵀ and V, so the graph stays in topological order.
            int index = graph.Node.IndexOf(mixed);
            foreach (var node in Split(graph, rewritten.Count, blockTokens, scores, scale, softmax, mixed).AsEnumerable().Reverse()) graph.Node.Insert(index, node);
            foreach (var node in new[] { scores, scale, softmax, mixed }.OfType<NodeProto>()) graph.Node.Remove(node);
            rewritten.Add(softmax.Name);
        }
        if (rewritten.Count > 0) AddConstants(graph, blockTokens);
        return rewritten;
    }

    /// <summary>The nodes that compute <paramref name="mixed"/>'s output block by block: the trip count, an empty start and the Loop.</summary>
    private static List<NodeProto> Split(GraphProto graph, int number, int blockTokens, NodeProto scores, NodeProto? scale, NodeProto softmax, NodeProto mixed)
    {
        string p = $"{Prefix}_{number}";
        string q = scores.Input[0], v = mixed.Input[1], output = mixed.Output[0];
        var outer = new List<NodeProto>
        {
            Node("Shape", [q], $"{p}_shape"),
            Node("Gather", [$"{p}_shape", $"{Prefix}_minus_two"], $"{p}_tokens"),
            Node("Add", [$"{p}_tokens", $"{Prefix}_block_less_one"], $"{p}_tokens_up"),
            Node("Div", [$"{p}_tokens_up", $"{Prefix}_block"], $"{p}_blocks"),
            // The blocks are appended to an empty [..., 0, dv] start: the output's shape but for its rows.
            Node("Slice", [v, $"{Prefix}_zero", $"{Prefix}_zero", $"{Prefix}_rows_axis"], $"{p}_empty"),
        };
        var body = new GraphProto { Name = $"{p}_body" };
        body.Input.Add(Scalar($"{p}_iteration", TensorProto.Types.DataType.Int64));
        body.Input.Add(Scalar($"{p}_condition", TensorProto.Types.DataType.Bool));
        body.Input.Add(new ValueInfoProto { Name = $"{p}_done" });
        body.Node.Add(Node("Mul", [$"{p}_iteration", $"{Prefix}_block"], $"{p}_start_scalar"));
        body.Node.Add(Node("Reshape", [$"{p}_start_scalar", $"{Prefix}_one"], $"{p}_start"));
        // Slice clamps the last block's end to the rows there are.
        body.Node.Add(Node("Add", [$"{p}_start", $"{Prefix}_block"], $"{p}_end"));
        body.Node.Add(Node("Slice", [q, $"{p}_start", $"{p}_end", $"{Prefix}_rows_axis"], $"{p}_queries"));
        var blockScores = scores.Clone();
        blockScores.Input[0] = $"{p}_queries";
        body.Node.Add(blockScores);
        if (scale is not null) body.Node.Add(scale.Clone());
        body.Node.Add(softmax.Clone());
        var blockMixed = mixed.Clone();
        blockMixed.Output[0] = $"{p}_block_output";
        body.Node.Add(blockMixed);
        var concat = Node("Concat", [$"{p}_done", $"{p}_block_output"], $"{p}_done_out");
        concat.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -2 });
        body.Node.Add(concat);
        body.Node.Add(Node("Identity", [$"{p}_condition"], $"{p}_condition_out"));
        body.Output.Add(Scalar($"{p}_condition_out", TensorProto.Types.DataType.Bool));
        body.Output.Add(new ValueInfoProto { Name = $"{p}_done_out" });
        var loop = Node("Loop", [$"{p}_blocks", "", $"{p}_empty"], output);
        loop.Name = $"{p}_loop";
        loop.Attribute.Add(new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body });
        outer.Add(loop);
        // Shapes recorded for the nodes now in the body no longer describe outer values.
        foreach (var info in graph.ValueInfo.Where(i => i.Name == scores.Output[0] || i.Name == softmax.Output[0] || (scale is not null && i.Name == scale.Output[0])).ToList())
            graph.ValueInfo.Remove(info);
        return outer;
    }

    private static void AddConstants(GraphProto graph, int blockTokens)
    {
        void Add(string name, long[] dims, params long[] values)
        {
            var tensor = new TensorProto { Name = $"{Prefix}_{name}", DataType = (int)TensorProto.Types.DataType.Int64 };
            tensor.Dims.AddRange(dims);
            tensor.Int64Data.AddRange(values);
            graph.Initializer.Add(tensor);
        }
        Add("block", [], blockTokens);
        Add("block_less_one", [], blockTokens - 1);
        Add("minus_two", [], -2);
        Add("zero", [1], 0);
        Add("one", [1], 1);
        Add("rows_axis", [1], -2);
    }

    private static NodeProto Node(string type, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = type, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static ValueInfoProto Scalar(string name, TensorProto.Types.DataType type) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() } } };
}
