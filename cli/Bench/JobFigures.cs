using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary>
/// What a set of finished jobs shows: throughput (from the first creation to the last completion),
/// latency from enqueue to the final status (from the status times, so clocks of other processes do not
/// matter), and the attempts they took. Printed by benchmarks and fault tests; never asserted as speed.
/// </summary>
/// <remarks><see cref="Size"/> is the images' (the model's default: 512x512, SDXL's 1024x1024).</remarks>
public sealed record JobFigures(int Jobs, int Succeeded, double JobsPerSecond, double P50Ms, double P95Ms, int Attempts, string? Size)
{
    public static JobFigures Of(IReadOnlyCollection<JobStatus> finished)
    {
        var latencies = finished.Select(s => (s.CompletedAt!.Value - s.CreatedAt).TotalMilliseconds).Order().ToArray();
        double span = (finished.Max(s => s.CompletedAt!.Value) - finished.Min(s => s.CreatedAt)).TotalSeconds;
        return new JobFigures(finished.Count, finished.Count(s => s.Status == JobState.Succeeded), finished.Count / span,
            Percentile(latencies, 0.5), Percentile(latencies, 0.95), finished.Sum(s => s.Attempts),
            finished.SelectMany(s => s.Images).FirstOrDefault() is { } image ? $"{image.Width}x{image.Height}" : null);
    }

    public int Failed => Jobs - Succeeded;

    public override string ToString() =>
        $"{Jobs} jobs, {Succeeded} succeeded: {JobsPerSecond:F2} jobs/s, p50 {P50Ms:F0} ms, p95 {P95Ms:F0} ms, {Attempts} attempts";

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
