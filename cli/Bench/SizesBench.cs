using System.Text.Json;

namespace Lcm.Cli;

/// <summary>
/// The warm bench at each of several sizes, each in a fresh process so its peak memory is its own:
/// time per stage and peak resident memory against the image size, as a table and (with a path) a
/// PNG plot of both.
/// </summary>
internal static class SizesBench
{
    public sealed record SizeFigures(int Size, double TextEncoderMs, double UnetStepMs, double VaeDecoderMs, double ImageEncodingMs, double TotalMs, long PeakRssBytes,
        double UnetStepGflop, double VaeDecoderGflop, double UnetGflops, double VaeDecoderGflops, double TextEncoderGflops, double MatMulPeakGflops);

    public static async Task<object> RunAsync(string model, IReadOnlyList<int> sizes, int steps, int runs, string? plot, ConsoleProgress progress)
    {
        var rows = new List<SizeFigures>();
        for (int i = 0; i < sizes.Count; i++)
        {
            int size = sizes[i];
            progress.Report(i, sizes.Count, $"sizes: {size}x{size}");
            string json = await SelfProcess.RunAsync(["bench", "--only", "warm", "--model", model, "--size", size.ToString(), "--steps", steps.ToString(), "--runs", runs.ToString(), "--json"]);
            using var report = JsonDocument.Parse(json);
            var figures = report.RootElement.GetProperty("warm").GetProperty($"steps{steps}");
            var flops = report.RootElement.GetProperty("warm").GetProperty("flops");
            double Flops(string name) => flops.GetProperty(name).GetDouble();
            var row = new SizeFigures(size, figures.GetProperty("textEncoderMs").GetDouble(),
                figures.GetProperty("unetStepMs").EnumerateArray().Average(e => e.GetDouble()), figures.GetProperty("vaeDecoderMs").GetDouble(),
                figures.GetProperty("imageEncodingMs").GetDouble(), figures.GetProperty("totalMs").GetDouble(), figures.GetProperty("peakRssBytes").GetInt64(),
                Flops("unetStepGflop"), Flops("vaeDecoderGflop"), Flops("unetGflops"), Flops("vaeDecoderGflops"), Flops("textEncoderGflops"), Flops("matMulPeakGflops"));
            rows.Add(row);
            progress.Line($"sizes: {size}x{size}: text encoder {row.TextEncoderMs:F0} ms, UNet step {row.UnetStepMs:F0} ms, VAE decoder {row.VaeDecoderMs:F0} ms, "
                + $"PNG {row.ImageEncodingMs:F0} ms, total {row.TotalMs:F0} ms, peak RSS {row.PeakRssBytes / 1048576} MB; UNet {row.UnetGflops:F0}, VAE decoder "
                + $"{row.VaeDecoderGflops:F0}, text encoder {row.TextEncoderGflops:F0} GFLOP/s against a MatMul peak of {row.MatMulPeakGflops:F0}");
        }
        if (plot is not null)
        {
            SizePlot.Write(rows, steps, plot);
            progress.Line($"sizes: plot written to {Path.GetFullPath(plot)}");
        }
        return new { steps, runs, sizes = rows };
    }
}
