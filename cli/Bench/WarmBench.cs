using System.Diagnostics;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary>Warm generation at 512x512 on the small model: where the time goes, and how much is outside ONNX Runtime.</summary>
internal static class WarmBench
{
    public static object Run(string model, int runs, ConsoleProgress progress)
    {
        using var engine = LcmEngine.Load(model, EngineSettings.ReadEngine());
        var results = new Dictionary<string, object>();
        foreach (int steps in new[] { 1, 2, 4 })
        {
            var request = new GenerationRequest { Prompt = "a photo of a cat at sunset", Steps = steps, Seed = 1 };
            engine.Generate(request); // the first run sizes ONNX Runtime's arenas; not counted
            var samples = new List<(GenerationTimings Timings, double EncodeMs)>();
            for (int i = 0; i < runs; i++)
            {
                progress.Report(i, runs, $"warm {steps} step(s): run {i + 1}/{runs}");
                var result = engine.Generate(request);
                long start = Stopwatch.GetTimestamp();
                ImageEncoder.Encode(result.Images[0], OutputFormat.Png);
                samples.Add((result.Timings, Stopwatch.GetElapsedTime(start).TotalMilliseconds));
            }
            double Median(Func<(GenerationTimings Timings, double EncodeMs), double> f) => ColdStartBench.Median(samples, f);
            var figures = new
            {
                totalMs = Median(s => s.Timings.TotalMs),
                ortMs = Median(s => s.Timings.OrtMs),
                overheadMs = Median(s => s.Timings.TotalMs - s.Timings.OrtMs),
                tokenizeMs = Median(s => s.Timings.TokenizeMs),
                textEncoderMs = Median(s => s.Timings.TextEncoderMs),
                unetStepMs = Enumerable.Range(0, steps).Select(i => Median(s => s.Timings.UnetStepMs[i])).ToArray(),
                vaeDecoderMs = Median(s => s.Timings.VaeDecoderMs),
                imageEncodingMs = Median(s => s.EncodeMs),
            };
            progress.Line($"warm {steps} step(s): total {figures.totalMs:F1} ms, ORT {figures.ortMs:F1} ms, overhead {figures.overheadMs:F2} ms, PNG {figures.imageEncodingMs:F1} ms");
            results[$"steps{steps}"] = figures;
        }
        return results;
    }
}
