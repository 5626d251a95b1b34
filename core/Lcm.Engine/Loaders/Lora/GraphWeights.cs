using DataType = Onnx.TensorProto.Types.DataType;
using Onnx;

namespace Lcm.Engine.Loaders.Lora;

/// <summary>How a weight initializer stores the [out, in] matrix of its module.</summary>
public enum WeightLayout
{
    /// <summary>[out, in] (Conv as [out, in, kh, kw], Gemm with transB=1).</summary>
    OutIn,

    /// <summary>[in, out]: MatMul weights, which exporters store transposed, and Gemm with transB=0.</summary>
    InOut,
}

/// <summary>The weight initializer of one module: what a LoRA module of the same name patches.</summary>
internal sealed record WeightTarget(string Module, NodeProto Node, TensorProto Weight, WeightLayout Layout)
{
    public long Out => Layout == WeightLayout.OutIn ? Weight.Dims[0] : Weight.Dims[1];

    /// <summary>Inputs per output: in for a matrix, in * kh * kw for a Conv.</summary>
    public long In => Layout == WeightLayout.OutIn ? Weight.Dims.Skip(1).Aggregate(1L, (a, b) => a * b) : Weight.Dims[0];
}

/// <summary>
/// The LoRA-patchable weights of a graph, found by node name as exporters scope them: a node named
/// <c>/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul</c> belongs to module
/// <c>down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q</c>, and its weight is the
/// initializer it reads (directly, or through one Cast as float16 models built for the CPU do).
/// Modules that cannot be patched safely (several weight nodes, a weight shared with another node,
/// a quantized or grouped weight) are kept with the reason, for the error message.
/// </summary>
internal sealed class GraphWeights
{
    private static readonly string[] WeightOps = ["MatMul", "Gemm", "Conv"];

    private GraphWeights(Dictionary<string, WeightTarget> targets, Dictionary<string, string> problems) =>
        (Targets, Problems) = (targets, problems);

    /// <summary>By flat module name (<see cref="LoraKey.Flatten"/>).</summary>
    public IReadOnlyDictionary<string, WeightTarget> Targets { get; }

    /// <summary>Modules with a weight node that cannot be patched, by flat module name, with why.</summary>
    public IReadOnlyDictionary<string, string> Problems { get; }

    public static GraphWeights Find(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        var consumers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (string output in node.Output) producers[output] = node;
            foreach (string input in node.Input) consumers[input] = consumers.GetValueOrDefault(input) + 1;
        }
        int Consumers(string value) => consumers.GetValueOrDefault(value) + graph.Output.Count(o => o.Name == value);

        var targets = new Dictionary<string, WeightTarget>(StringComparer.Ordinal);
        var problems = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            if (!WeightOps.Contains(node.OpType) || node.Input.Count < 2 || ModuleOf(node.Name) is not { } module) continue;
            string value = node.Input[1];
            // Through one Cast: float16 weights computed in float32.
            if (!initializers.ContainsKey(value) && producers.TryGetValue(value, out var cast) && cast.OpType == "Cast"
                && Consumers(value) == 1 && initializers.ContainsKey(cast.Input[0]))
                value = cast.Input[0];
            if (!initializers.TryGetValue(value, out var weight)) continue; // an activation product (attention scores), not a weight

            string? problem = null;
            if (targets.Remove(module, out var other) || problems.ContainsKey(module))
                problem = $"several weight nodes in one module ('{other?.Node.Name ?? "..."}', '{node.Name}')";
            else if (Consumers(value) != 1)
                problem = $"weight '{value}' of '{node.Name}' is shared with other nodes";
            else if (weight.DataType is not ((int)DataType.Float or (int)DataType.Float16))
                problem = $"weight '{value}' of '{node.Name}' is {(DataType)weight.DataType}, not float32 or float16 (a quantized graph?)";
            else if (LayoutOf(node, weight) is { } layout)
                targets[module] = new WeightTarget(module, node, weight, layout);
            else
                problem = $"'{node.Name}' is not a plain {node.OpType} (weight shape [{string.Join(", ", weight.Dims)}], attributes {string.Join(", ", node.Attribute.Select(a => a.Name))})";
            if (problem is not null) problems[module] = problem;
        }
        return new GraphWeights(targets, problems);
    }

    /// <summary>The flat module name of a scoped node name; null for names without a scope (<c>MatMul_12</c>).</summary>
    public static string? ModuleOf(string nodeName)
    {
        int last = nodeName.LastIndexOf('/');
        return last <= 1 || nodeName[0] != '/' ? null : LoraKey.Flatten(nodeName[1..last]);
    }

    private static WeightLayout? LayoutOf(NodeProto node, TensorProto weight)
    {
        long Attribute(string name, long fallback) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? fallback;
        return node.OpType switch
        {
            "MatMul" when weight.Dims.Count == 2 => WeightLayout.InOut,
            "Gemm" when weight.Dims.Count == 2 => Attribute("transB", 0) == 1 ? WeightLayout.OutIn : WeightLayout.InOut,
            "Conv" when weight.Dims.Count == 4 && Attribute("group", 1) == 1 => WeightLayout.OutIn,
            _ => null,
        };
    }
}
