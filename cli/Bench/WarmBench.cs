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
/// Then, once the timed runs are done, each stage's operations from one profiled run (<see cref="GraphFlops"/>)
/// and the machine's matrix-multiply peak (<see cref="MatMulPeak"/>), so each stage's GFLOP/s reads against it.
/// </summary>
internal static class WarmBench
{
    public static object Run(string model, int runs, int size, int[] stepCounts, ConsoleProgress progress)
    {
        var options = EngineSettings.ReadEngine();
        var results = new Dictionary<string, object> { ["size"] = $"{size}x{size}" };
        var timed = new Dictionary<int, (double TextEncoderMs, double UnetStepMs, double VaeDecoderMs)>();
        using (var engine = LcmEngine.Load(model, options))
            foreach (int steps in stepCounts) results[$"steps{steps}"] = Timed(engine, size, steps, runs, progress, timed);
        progress.Line($"warm {size}x{size}: counting operations (one profiled run) and measuring the matrix-multiply peak");
        var flops = ProfiledFlops(model, options, Request(size, stepCounts[0]));
        double peak = MatMulPeak.MeasureGflops(options);
        double unetStepFlops = flops.GetValueOrDefault("unet") / stepCounts[0];
        // SDXL's two text encoders are one stage, as their time is.
        double textFlops = flops.GetValueOrDefault("text_encoder") + flops.GetValueOrDefault("text_encoder_2");
        var (text, unet, vae) = timed[stepCounts[0]];
        double Gflops(double operations, double ms) => ms > 0 ? operations / ms / 1e6 : 0;
        results["flops"] = new
        {
            textEncoderGflop = textFlops / 1e9,
            unetStepGflop = unetStepFlops / 1e9,
            vaeDecoderGflop = flops.GetValueOrDefault("vae_decoder") / 1e9,
            textEncoderGflops = Gflops(textFlops, text),
            unetGflops = Gflops(unetStepFlops, unet),
            vaeDecoderGflops = Gflops(flops.GetValueOrDefault("vae_decoder"), vae),
            matMulPeakGflops = peak,
        };
        progress.Line($"warm {size}x{size}: UNet step {unetStepFlops / 1e9:F1} GFLOP at {Gflops(unetStepFlops, unet):F0} GFLOP/s, VAE decoder "
            + $"{flops.GetValueOrDefault("vae_decoder") / 1e9:F1} GFLOP at {Gflops(flops.GetValueOrDefault("vae_decoder"), vae):F0} GFLOP/s, text encoder "
            + $"{textFlops / 1e9:F1} GFLOP at {Gflops(textFlops, text):F0} GFLOP/s; "
            + $"MatMul peak {peak:F0} GFLOP/s");
        return results;
    }

    private static GenerationRequest Request(int size, int steps) =>
        new() { Prompt = "a photo of a cat at sunset", Steps = steps, Seed = 1, Width = size, Height = size };

    /// <summary>Each stage's operations in one run of <paramref name="request"/>, from ONNX Runtime's profiles (written as the engine is disposed).</summary>
    private static Dictionary<string, double> ProfiledFlops(string model, EngineOptions options, GenerationRequest request)
    {
        string profiles = Directory.CreateTempSubdirectory("lcm-profile-").FullName;
        try
        {
            using (var engine = LcmEngine.Load(model, options with { ProfileDirectory = profiles, WarmUp = false }))
                engine.Generate(request);
            return GraphFlops.PerStage(profiles);
        }
        finally
        {
            Directory.Delete(profiles, recursive: true);
        }
    }

    private static object Timed(LcmEngine engine, int size, int steps, int runs, ConsoleProgress progress,
        Dictionary<int, (double TextEncoderMs, double UnetStepMs, double VaeDecoderMs)> timed)
    {
        var request = Request(size, steps);
        // The first run sizes ONNX Runtime's arenas and compiles the PNG encoder; not counted.
        long? unetPeak = null;
        ImageEncoder.Encode(engine.Generate(request with { Preview = new SynchronousProgress<LatentPreview>(_ => unetPeak ??= ProcessMemory.PeakRssBytes()) }).Images[0], OutputFormat.Png);
        var samples = new List<(GenerationTimings Timings, double EncodeMs)>();
        for (int i = 0; i < runs; i++)
        {
            progress.Report(i, runs, $"warm {size}x{size}, {steps} step(s): run {i + 1}/{runs}");
            // A prompt of its own each run: a repeated one would come from the engine's prompt cache, untimed.
            var result = engine.Generate(request with { Prompt = $"{request.Prompt}, take {i + 1}" });
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
        timed[steps] = (figures.textEncoderMs, figures.unetStepMs.Average(), figures.vaeDecoderMs);
        return figures;
    }
}
