using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lcm.Cli;

/// <summary>
/// Floating-point operations of a run, counted from ONNX Runtime's per-node profile: each Conv, MatMul
/// and Gemm node as it ran (fused forms included), from the input and output shapes the profile records,
/// a multiply-add being two operations. Elementwise nodes, normalisations and softmax are not counted:
/// next to the matrix products they are a few per cent of the work, and they are bound by memory, not
/// arithmetic, so the figure says how close the products come to the machine's peak.
/// </summary>
internal static class GraphFlops
{
    /// <summary>The operations of each stage's runs, by the profile files' stage names (unet, text_encoder, ...).</summary>
    public static Dictionary<string, double> PerStage(string profileDirectory)
    {
        var stages = new Dictionary<string, double>();
        foreach (string file in Directory.EnumerateFiles(profileDirectory, "*.json"))
        {
            // ONNX Runtime names each file {prefix}_{yyyy-MM-dd_HH-mm-ss_fff}.json.
            string stage = Regex.Match(Path.GetFileName(file), @"^(.+)_\d{4}-\d{2}-\d{2}_").Groups[1].Value;
            stages[stage] = stages.GetValueOrDefault(stage) + Count(File.ReadAllText(file));
        }
        return stages;
    }

    /// <summary>The operations of one profile (a JSON array of trace events).</summary>
    public static double Count(string profileJson)
    {
        using var profile = JsonDocument.Parse(profileJson);
        double total = 0;
        foreach (var e in profile.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            var args = e.GetProperty("args");
            if (!args.TryGetProperty("op_name", out var op) || !args.TryGetProperty("input_type_shape", out var inputs) || !args.TryGetProperty("output_type_shape", out var outputs))
                continue;
            total += Operations(op.GetString()!, Shapes(inputs), Shapes(outputs));
        }
        return total;
    }

    /// <summary>
    /// A node's operations: a convolution's output elements times its kernel's (input channels per group
    /// by kernel size), a matrix product's output elements times the shared dimension, twice each.
    /// </summary>
    public static double Operations(string op, IReadOnlyList<long[]> inputs, IReadOnlyList<long[]> outputs)
    {
        // A pre-packed weight is left out of the profile's inputs: a product's shared dimension is read from its first input alone.
        if (inputs.Count < 1 || outputs.Count < 1) return 0;
        double outputElements = outputs[0].Aggregate(1.0, (product, d) => product * d);
        return op switch
        {
            // Weights [out, in / groups, kernel...]: whatever the layout of the activations (NCHWc too).
            "Conv" or "FusedConv" or "NhwcConv" when inputs.Count >= 2 && inputs[1].Length >= 3 => 2 * outputElements * inputs[1].Skip(1).Aggregate(1.0, (p, d) => p * d),
            "MatMul" or "FusedMatMul" or "Gemm" or "FusedGemm" or "DynamicQuantizeMatMul" or "MatMulInteger" => 2 * outputElements * SharedDimension(inputs[0], outputs[0]),
            _ => 0,
        };
    }

    /// <summary>K of A [.., M, K] times B: A's last two dimensions over the output's rows, so a transposed A ([.., K, M]) counts the same.</summary>
    private static double SharedDimension(long[] a, long[] output) => a.Length switch
    {
        0 => 1,
        1 => a[0],
        _ => (double)a[^1] * a[^2] / (output.Length >= 2 ? output[^2] : 1),
    };

    private static List<long[]> Shapes(JsonElement list) =>
        list.EnumerateArray().Select(entry => entry.EnumerateObject().First().Value.EnumerateArray().Select(d => d.GetInt64()).ToArray()).ToList();
}
