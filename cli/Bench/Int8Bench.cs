using Lcm.Engine.Pipelines;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary>
/// The int8 UNet (LCM_INT8) against float32 on one model, side by side in one process: the UNet step's
/// median time of each (runs alternating, so drift hits both), the relative error of each step's denoised
/// latents (||int8 - float32|| / ||float32||) and the final image's pixel difference.
/// </summary>
internal static class Int8Bench
{
    public static object Run(string model, int runs, int size, int steps, ConsoleProgress progress)
    {
        var settings = EngineSettings.ReadEngine();
        using var float32 = LcmEngine.Load(model, settings with { Int8 = false });
        using var int8 = LcmEngine.Load(model, settings with { Int8 = true });
        var request = new GenerationRequest { Prompt = "a photo of a cat at sunset", Steps = steps, Seed = 1, Width = size, Height = size };

        var (reference, referenceLatents) = Generate(float32, request);
        var (quantized, quantizedLatents) = Generate(int8, request);
        double[] stepErrors = referenceLatents.Zip(quantizedLatents, RelativeError).ToArray();
        var (meanDiff, maxDiff) = PixelDifference(reference.Images[0].Rgb, quantized.Images[0].Rgb);

        var times = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        for (int i = 0; i < runs; i++)
        {
            progress.Report(i, runs, $"int8 {size}x{size}: run {i + 1}/{runs}");
            foreach (bool useInt8 in i % 2 == 0 ? new[] { false, true } : [true, false])
                times[useInt8].Add((useInt8 ? int8 : float32).Generate(request).Timings.UnetStepMs.Average());
        }
        var figures = new
        {
            size = $"{size}x{size}",
            steps,
            float32UnetStepMs = Spread.Of(times[false]),
            int8UnetStepMs = Spread.Of(times[true]),
            int8OverFloat32 = Spread.Of(times[true].Zip(times[false], (q, f) => q / f)),
            stepRelativeErrors = stepErrors,
            meanPixelDifference = meanDiff,
            maxPixelDifference = maxDiff,
        };
        progress.Line($"int8 {size}x{size}, {steps} step(s): UNet step {figures.int8UnetStepMs.Format("F1")} ms against float32 {figures.float32UnetStepMs.Format("F1")} ms "
            + $"(ratio {figures.int8OverFloat32.Format("F2")}); step errors {string.Join(", ", stepErrors.Select(e => e.ToString("P2")))}; "
            + $"pixels differ by {meanDiff:F2} on average, {maxDiff} at most");
        return figures;
    }

    private static (GenerationResult Result, List<float[]> Latents) Generate(LcmEngine engine, GenerationRequest request)
    {
        var latents = new List<float[]>();
        var result = engine.Generate(request with { Preview = new SynchronousProgress<LatentPreview>(p => latents.Add(p.Latents.ToArray())) });
        return (result, latents);
    }

    private static double RelativeError(float[] reference, float[] other)
    {
        double difference = 0, norm = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            difference += Math.Pow(other[i] - reference[i], 2);
            norm += Math.Pow(reference[i], 2);
        }
        return Math.Sqrt(difference / Math.Max(norm, double.Epsilon));
    }

    private static (double Mean, int Max) PixelDifference(byte[] a, byte[] b)
    {
        long sum = 0;
        int max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            int d = Math.Abs(a[i] - b[i]);
            sum += d;
            max = Math.Max(max, d);
        }
        return ((double)sum / a.Length, max);
    }
}
