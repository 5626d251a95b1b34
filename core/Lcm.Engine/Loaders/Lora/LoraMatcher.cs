using Onnx;

namespace Lcm.Engine.Loaders.Lora;

/// <summary>One weight to patch and every LoRA module (with its file's scale) that adds to it.</summary>
internal sealed record WeightPatch(WeightTarget Target, IReadOnlyList<(LoraWeights Lora, LoraModule Module, double Scale)> Sources);

/// <summary>How much of one LoRA file matched: its tensors and its modules per graph.</summary>
public sealed record LoraMatchReport(string Name, int Tensors, int UnetModules, int TextEncoderModules, int TextEncoder2Modules);

/// <summary>
/// Matches the modules of LoRA files to the weights of the model's graphs. All or nothing: any module
/// without a weight to patch, or whose shapes do not fit it, fails the whole match with a message
/// listing every such module, so a model is never merged partway.
/// </summary>
internal static class LoraMatcher
{
    /// <summary>Matches the modules of <paramref name="components"/>, of which <paramref name="graphs"/> has those the model has.</summary>
    public static Dictionary<LoraComponent, List<WeightPatch>> Match(
        IReadOnlyCollection<LoraComponent> components,
        IReadOnlyDictionary<LoraComponent, (string Path, GraphWeights Weights)> graphs,
        IReadOnlyList<(LoraFile File, LoraWeights Weights)> loras)
    {
        var patches = new Dictionary<LoraComponent, Dictionary<string, (WeightTarget, List<(LoraWeights, LoraModule, double)>)>>();
        var failures = new List<string>();
        foreach (var (file, weights) in loras)
        {
            var unmatched = new List<string>();
            // Only the graphs asked for: the others' merges may already be cached.
            var modules = weights.Modules.Where(m => components.Contains(m.Component)).ToArray();
            foreach (var module in modules)
            {
                if (!graphs.TryGetValue(module.Component, out var source))
                {
                    unmatched.Add($"{module.Module} (the model has no text_encoder_2/model.onnx: an SDXL LoRA on an SD 1.5-class model?)");
                    continue;
                }
                var (path, graph) = source;
                string? problem = graph.Targets.TryGetValue(module.Module, out var target) ? ShapeProblem(module, target)
                    : graph.Problems.TryGetValue(module.Module, out var why) ? why
                    : $"no MatMul, Gemm or Conv node with a weight in scope '{module.Module}' of '{path}'";
                if (problem is not null)
                {
                    unmatched.Add($"{module.Module} ({(module.SgmName is { } sgm ? $"'{sgm}' in the file: " : "")}{problem})");
                    continue;
                }
                if (!patches.TryGetValue(module.Component, out var byModule)) patches[module.Component] = byModule = [];
                if (!byModule.TryGetValue(module.Module, out var patch)) byModule[module.Module] = patch = (target!, []);
                patch.Item2.Add((weights, module, file.Scale));
            }
            if (unmatched.Count == 0) continue;
            string hint = graphs.Count > 0 && graphs.Values.All(g => g.Weights.Targets.Count == 0)
                ? " The graphs have no weight nodes with scoped names (like '/down_blocks.0/attentions.0/proj_in/Conv'), so no LoRA can be matched to them."
                : "";
            failures.Add($"'{file.Name}': {unmatched.Count} of {modules.Length} modules do not match: {LoraText.List(unmatched)}.{hint}");
        }
        if (failures.Count > 0)
            throw new LoraException(LoraException.Mismatch,
                $"LoRA does not fit this model (fused attention, quantized weights or unscoped node names cannot be patched); nothing was merged. {string.Join(" ", failures)}");
        return patches.ToDictionary(c => c.Key, c => c.Value.Values.Select(p => new WeightPatch(p.Item1, p.Item2)).ToList());
    }

    public static IReadOnlyList<LoraMatchReport> Report(IReadOnlyList<(LoraFile File, LoraWeights Weights)> loras) =>
        loras.Select(l => new LoraMatchReport(l.File.Name, l.Weights.TensorCount,
            l.Weights.Modules.Count(m => m.Component == LoraComponent.Unet),
            l.Weights.Modules.Count(m => m.Component == LoraComponent.TextEncoder),
            l.Weights.Modules.Count(m => m.Component == LoraComponent.TextEncoder2))).ToArray();

    /// <summary>
    /// up is [out, rank] (or [out, rank, 1, 1]); down is [rank, in] or [rank, in, kh, kw], whose
    /// trailing dimensions must be the weight's own for a Conv (a Linear LoRA on a 1x1 conv is fine).
    /// </summary>
    private static string? ShapeProblem(LoraModule module, WeightTarget target)
    {
        long[] down = module.Down.Shape, up = module.Up.Shape;
        string Shapes() => $"up [{string.Join(", ", up)}], down [{string.Join(", ", down)}], weight '{target.Weight.Name}' [{string.Join(", ", target.Weight.Dims)}] ({target.Node.OpType})";
        if (down.Length is not (2 or 4) || up.Length is not (2 or 4) || (up.Length == 4 && (up[2] != 1 || up[3] != 1)))
            return $"unsupported LoRA tensor shapes: {Shapes()}";
        if (down[0] == 0 || up[1] != down[0]) return $"up and down disagree on the rank: {Shapes()}";
        long inputs = down.Skip(1).Aggregate(1L, (a, b) => a * b);
        if (up[0] != target.Out || inputs != target.In) return $"shapes do not fit: {Shapes()}";
        if (down.Length == 4 && target.Node.OpType == "Conv" && !down.Skip(1).SequenceEqual(target.Weight.Dims.Skip(1)))
            return $"kernel shapes differ: {Shapes()}";
        return null;
    }
}
