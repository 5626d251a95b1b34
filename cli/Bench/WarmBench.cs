using System.Diagnostics;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary>
/// Warm generation of square images of <c>size</c> for each step count: where the time goes stage by stage, how much
/// is outside ONNX Runtime, and the process's peak resident memory (VmHWM, all of this process's work so far), also as it
/// stood after the first run's first UNet step, before any VAE pass: the UNet's own peak (LCM_ATTENTION_SLICING moves it).
/// </summary>
internal static class WarmBench
{
    public static object Run(string model, int runs, int size, int[] stepCounts, ConsoleProgress progress)
    {
        using var engine = LcmEngine.Load(model, EngineSettings.ReadEngine());
        var results = new Dictionary<string, object> { ["size"] = $"{size}x{size}" };
        foreach (int steps in stepCounts)
        {
            var request = new GenerationRequest { Prompt = "a photo of a cat at sunset", Steps = steps, Seed = 1, Width = size, Height = size };
            // The first run sizes ONNX Runtime's arenas and compiles the PNG encoder; not counted.
            long? unetPeak = null;
            ImageEncoder.Encode(engine.Generate(request with { Preview = new SynchronousProgress<LatentPreview>(_ => unetPeak ??= ProcessMemory.PeakRssBytes()) }).Images[0], OutputFormat.Png);
            var samples = new List<(GenerationTimings Timings, double EncodeMs)>();
            for (int i = 0; i < runs; i++)
            {
                progress.Report(i, runs, $"warm {size}x{size}, {steps} step(s): run {i + 1}/{runs}");
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
                peakRssBytes = ProcessMemory.PeakRssBytes(),
                unetPeakRssBytes = unetPeak,
            };
            progress.Line($"warm {size}x{size}, {steps} step(s): total {figures.totalMs:F1} ms (text encoder {figures.textEncoderMs:F1} ms, UNet steps "
                + $"{string.Join(", ", figures.unetStepMs.Select(ms => ms.ToString("F1")))} ms, VAE decoder {figures.vaeDecoderMs:F1} ms), ORT {figures.ortMs:F1} ms, "
                + $"overhead {figures.overheadMs:F2} ms, PNG {figures.imageEncodingMs:F1} ms, peak RSS {figures.peakRssBytes / 1048576} MB (after the first UNet step {figures.unetPeakRssBytes / 1048576} MB)");
            results[$"steps{steps}"] = figures;
        }
        return results;
    }
}
