using Lcm.Cli;
using Lcm.SyntheticModels;
using Microsoft.ML.OnnxRuntime;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Lcm.Tests.Cli;

/// <summary>The bench's operation count, from the profile of a real ONNX Runtime run of a graph whose work is known by hand.</summary>
public sealed class GraphFlopsTests
{
    [Fact]
    public void A_profiled_run_counts_each_convolution_and_matrix_product_and_nothing_else()
    {
        string folder = Directory.CreateTempSubdirectory("lcm-flops-").FullName;
        try
        {
            // x [1, 8, 16, 16] -> Conv 3x3, 8 -> 16 channels, 2 groups -> Relu -> [1, 16, 256] -> MatMul with [256, 32].
            var graph = new GraphBuilder("flops", seed: 3, float16: false);
            string x = graph.Input("x", DataType.Float, 1, 8, 16, 16);
            string conv = graph.Node("Conv", [x, graph.Weight("w", [16, 4, 3, 3], 0.1f)],
                GraphBuilder.IntsAttribute("pads", 1, 1, 1, 1), GraphBuilder.IntAttribute("group", 2));
            string flat = graph.Node("Reshape", [graph.Node("Relu", [conv]), graph.Int64s(1, 16, 256)]);
            graph.FloatOutput("y", graph.Node("MatMul", [flat, graph.Weight("m", [256, 32], 0.1f)]), 1, 16, 32);
            graph.Save(Path.Combine(folder, "flops.onnx"));

            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, ProfileOutputPathPrefix = Path.Combine(folder, "flops") })
            {
                options.EnableProfiling = true;
                using var session = new InferenceSession(Path.Combine(folder, "flops.onnx"), options);
                using var input = OrtValue.CreateTensorValueFromMemory(new float[8 * 16 * 16], [1, 8, 16, 16]);
                using var run = new RunOptions();
                for (int i = 0; i < 3; i++) session.Run(run, ["x"], [input], ["y"]).Dispose();
            }

            // Conv: 16 x 16 x 16 outputs, each 4 input channels x 3 x 3 multiply-adds; MatMul: 16 x 32 outputs of 256 each.
            double perRun = 2.0 * (16 * 16 * 16 * 4 * 9 + 16 * 32 * 256);
            Assert.Equal(new Dictionary<string, double> { ["flops"] = 3 * perRun }, GraphFlops.PerStage(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_transposed_or_batched_product_counts_its_shared_dimension_once()
    {
        // [2, 8, 64, 40] x [2, 8, 40, 64] -> [2, 8, 64, 64]: K = 40; Gemm with A transposed ([40, 64]) to [64, 10]: K = 40.
        Assert.Equal(2.0 * 2 * 8 * 64 * 64 * 40, GraphFlops.Operations("MatMul", [[2, 8, 64, 40], [2, 8, 40, 64]], [[2, 8, 64, 64]]));
        Assert.Equal(2.0 * 64 * 10 * 40, GraphFlops.Operations("Gemm", [[40, 64], [40, 10]], [[64, 10]]));
        Assert.Equal(0, GraphFlops.Operations("Softmax", [[2, 8, 64, 64]], [[2, 8, 64, 64]]));
    }
}
