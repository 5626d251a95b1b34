using Lcm.Engine.Loaders.Lora;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.SyntheticModels;

/// <summary>
/// A weight of a test model that LoRAs patch: its diffusers module path, the initializer name a real
/// export gives it, its [out, in, kernel, kernel] size and how it is stored. <see cref="SgmName"/> is
/// the module's flat name in kohya's SGM naming (<c>input_blocks_4_1_proj_in</c>), written by hand as
/// kohya's SDXL trainer names it, for the SDXL test model's UNet modules.
/// </summary>
public sealed record PatchableModule(
    LoraComponent Component, string Path, string WeightName, string OpType, int Out, int In, int Kernel, WeightLayout Layout, string? SgmName = null)
{
    public long InputsPerOutput => (long)In * Kernel * Kernel;
}

/// <summary>
/// Layers as exporters write them, named by module scope (<c>/down_blocks.0/resnets.0/conv1/Conv</c>):
/// a Linear is a MatMul on the transposed weight [in, out], a Gemm has the <c>transB</c> of its layout,
/// a Conv keeps its module-named weight. Weights are seeded, plus the module's
/// <see cref="TestModelOptions.MergedDeltas"/> where given.
/// </summary>
internal static class ExportedLayers
{
    public static string Linear(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, string input, PatchableModule module) =>
        g.ScopedNode($"{Scope(module.Path)}/MatMul", "MatMul", [input, Weight(g, options, external, module)]);

    /// <summary>A Linear with its bias, which exporters add in a separate node.</summary>
    public static string LinearWithBias(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, string input, PatchableModule module) =>
        g.ScopedNode($"{Scope(module.Path)}/Add", "Add", [Linear(g, options, external, input, module), g.Weight($"{module.Path}.bias", [module.Out], 0.1f)]);

    public static string Gemm(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, string input, PatchableModule module) =>
        g.ScopedNode($"{Scope(module.Path)}/Gemm", "Gemm", [input, Weight(g, options, external, module), g.Weight($"{module.Path}.bias", [module.Out], 0.1f)],
            IntAttribute("transB", module.Layout == WeightLayout.OutIn ? 1L : 0L));

    /// <summary>A Conv padded to keep the size at stride 1, or unpadded for an input padded before it.</summary>
    public static string Conv(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, string input, PatchableModule module,
        long stride = 1, bool padded = true)
    {
        long pad = padded ? module.Kernel / 2 : 0;
        return g.ScopedNode($"{Scope(module.Path)}/Conv", "Conv", [input, Weight(g, options, external, module), g.Weight($"{module.Path}.bias", [module.Out], 0.1f)],
            IntsAttribute("kernel_shape", module.Kernel, module.Kernel), IntsAttribute("pads", pad, pad, pad, pad), IntsAttribute("strides", stride, stride));
    }

    /// <summary>
    /// Cross-attention of <paramref name="sequence"/> [batch, tokens, channels] on <paramref name="text"/> through the
    /// to_q, to_k, to_v and to_out.0 modules under <paramref name="attention"/>; its own MatMuls multiply activations.
    /// </summary>
    public static string CrossAttention(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, IReadOnlyList<PatchableModule> modules,
        string attention, string sequence, string text)
    {
        PatchableModule Module(string name) => modules.Single(m => m.Path == $"{attention}.{name}");
        string scope = Scope(attention);
        string q = Linear(g, options, external, sequence, Module("to_q"));
        string k = Linear(g, options, external, text, Module("to_k"));
        string v = Linear(g, options, external, text, Module("to_v"));
        // Scoped like the weights' but no LoRA target.
        string scores = g.ScopedNode($"{scope}/MatMul", "MatMul", [q, g.Node("Transpose", [k], IntsAttribute("perm", 0L, 2L, 1L))]);
        string weights = g.Node("Softmax", [g.Node("Mul", [scores, g.Scalar(1f / MathF.Sqrt(Module("to_q").Out))])], IntAttribute("axis", -1L));
        string mixed = g.ScopedNode($"{scope}/MatMul_1", "MatMul", [weights, v]);
        var output = Module("to_out.0");
        return g.Node("Add", [Linear(g, options, external, mixed, output), g.Weight($"{output.Path}.bias", [output.Out], 0.1f)]);
    }

    /// <summary>
    /// The seeded weight in the model's precision, plus the delta <see cref="TestModelOptions.MergedDeltas"/>
    /// gives for the module ([out, in * k * k], added in float32 and rounded once), in the storage layout.
    /// </summary>
    private static string Weight(GraphBuilder g, TestModelOptions options, ExternalDataFile? external, PatchableModule module)
    {
        long count = module.Out * module.InputsPerOutput;
        float[] values = g.SeededValues(module.WeightName, count, MathF.Sqrt(3f / module.InputsPerOutput));
        if (options.MergedDeltas?.GetValueOrDefault((module.Component, module.Path)) is { } delta)
        {
            for (int o = 0; o < module.Out; o++)
            for (long i = 0; i < module.InputsPerOutput; i++)
                values[module.Layout == WeightLayout.OutIn ? o * module.InputsPerOutput + i : i * module.Out + o] += delta[o * module.InputsPerOutput + i];
        }
        long[] dims = module.Kernel > 1 || module.OpType == "Conv" ? [module.Out, module.In, module.Kernel, module.Kernel]
            : module.Layout == WeightLayout.OutIn ? [module.Out, module.In] : [module.In, module.Out];
        return g.Weight(module.WeightName, dims, values, external);
    }

    /// <summary>The exporter's scope of a module: its path with '/' between modules (<c>/down_blocks.0/resnets.0/conv1</c>).</summary>
    public static string Scope(string modulePath) => "/" + string.Join('/', SplitModulePath(modulePath));

    // "down_blocks.0.resnets.0.conv1" is [down_blocks.0, resnets.0, conv1]: a number belongs to the name before it.
    private static IEnumerable<string> SplitModulePath(string path)
    {
        var parts = path.Split('.');
        for (int i = 0; i < parts.Length; i++)
            yield return i + 1 < parts.Length && int.TryParse(parts[i + 1], out _) ? $"{parts[i]}.{parts[++i]}" : parts[i];
    }
}
