using ScottPlot;

namespace Lcm.Cli;

/// <summary>Time per stage (left axis, seconds) and peak memory (right axis, GB) against the image size, as a PNG.</summary>
internal static class SizePlot
{
    public static void Write(IReadOnlyList<SizesBench.SizeFigures> rows, int steps, string path)
    {
        var plot = new Plot();
        double[] sizes = rows.Select(r => (double)r.Size).ToArray();
        void Stage(string label, Func<SizesBench.SizeFigures, double> ms)
        {
            var line = plot.Add.Scatter(sizes, rows.Select(r => ms(r) / 1000).ToArray());
            line.LegendText = label;
        }
        Stage("text encoder", r => r.TextEncoderMs);
        Stage("UNet step", r => r.UnetStepMs);
        Stage("VAE decoder", r => r.VaeDecoderMs);
        Stage("PNG encode", r => r.ImageEncodingMs);
        Stage($"whole image ({steps} step{(steps == 1 ? "" : "s")})", r => r.TotalMs);
        var memory = plot.Add.Scatter(sizes, rows.Select(r => r.PeakRssBytes / 1e9).ToArray());
        memory.LegendText = "peak memory (right, GB)";
        memory.LinePattern = LinePattern.Dashed;
        memory.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Bottom.Label.Text = "image size (pixels a side)";
        plot.Axes.Left.Label.Text = "seconds";
        plot.Axes.Right.Label.Text = "GB";
        plot.Title("Time and memory against size");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 900, 560);
    }
}
