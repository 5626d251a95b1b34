using System.Diagnostics;
using Lcm.Engine.Loaders;
using Lcm.SyntheticModels;
using Microsoft.ML.OnnxRuntime;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Lcm.Cli;

/// <summary>
/// This machine's float32 matrix-multiply peak as ONNX Runtime reaches it: one square MatMul of
/// <see cref="Side"/> a side, with the engine's thread setting, the best of several runs. The stages'
/// GFLOP/s are read against it, measured in the same run so both see the same machine state.
/// </summary>
internal static class MatMulPeak
{
    private const int Side = 2048;
    private const int Runs = 5;

    public static double MeasureGflops(EngineOptions engine)
    {
        string folder = Directory.CreateTempSubdirectory("lcm-matmul-").FullName;
        try
        {
            string path = Path.Combine(folder, "matmul.onnx");
            var graph = new GraphBuilder("matmul", seed: 1, float16: false);
            graph.FloatOutput("c", graph.Node("MatMul", [graph.Input("a", DataType.Float, Side, Side), graph.Input("b", DataType.Float, Side, Side)]), Side, Side);
            graph.Save(path);
            using var options = new SessionOptions();
            if (engine.IntraOpThreads is int threads) options.IntraOpNumThreads = threads;
            using var session = new InferenceSession(path, options);
            var values = new float[Side * Side];
            for (int i = 0; i < values.Length; i++) values[i] = (i % 17 - 8) / 8f;
            using var a = OrtValue.CreateTensorValueFromMemory(values, [Side, Side]);
            using var b = OrtValue.CreateTensorValueFromMemory(values, [Side, Side]);
            using var run = new RunOptions();
            double best = double.MaxValue;
            // The first run sizes the arena and warms the thread pool: not counted.
            for (int i = 0; i <= Runs; i++)
            {
                long start = Stopwatch.GetTimestamp();
                using var outputs = session.Run(run, ["a", "b"], [a, b], ["c"]);
                if (i > 0) best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            return 2.0 * Side * Side * Side / best / 1e9;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
