using System.Diagnostics;
using Lcm.Client;
using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary>
/// A burst of jobs sent at once through Azurite to 1 and 2 local worker processes, with dynamic
/// batching off and on: throughput, and latency from enqueue to succeeded (from the status times).
/// </summary>
internal static class BurstBench
{
    public static async Task<object> RunAsync(string model, int jobs, int batchImages, Action<string> log)
    {
        using var azurite = await Azurite.StartAsync();
        var results = new List<object>();
        string? size = null;
        foreach (int workers in new[] { 1, 2 })
        {
            foreach (bool batching in new[] { false, true })
            {
                var figures = await RunOneAsync(azurite.ConnectionString, model, jobs, workers, batching ? batchImages : 1);
                size = figures.Size;
                log($"burst {jobs} jobs, {workers} worker(s), batching {(batching ? "on" : "off")}: {figures.JobsPerSecond:F2} jobs/s, p50 {figures.P50Ms:F0} ms, p95 {figures.P95Ms:F0} ms");
                results.Add(new { workers, batching, figures.JobsPerSecond, p50Ms = figures.P50Ms, p95Ms = figures.P95Ms, figures.Failed });
            }
        }
        return new { jobs, batchMaxImages = batchImages, size, steps = 4, runs = results };
    }

    /// <summary>Size is the images' (the model's default: 512x512, SDXL's 1024x1024).</summary>
    private sealed record Figures(double JobsPerSecond, double P50Ms, double P95Ms, int Failed, string? Size);

    private static async Task<Figures> RunOneAsync(string connection, string model, int jobs, int workers, int batchImages)
    {
        string queue = $"bench-{Guid.NewGuid():N}"[..20];
        var env = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = connection,
            ["LCM_JOBS_QUEUE"] = queue,
            ["LCM_PUBLISH_RESULTS"] = "false",
            ["LCM_BATCH_MAX_IMAGES"] = $"{batchImages}",
            ["LCM_EXECUTION_PROVIDER"] = "cpu",
        };
        var processes = new List<Process>();
        try
        {
            for (int i = 0; i < workers; i++) processes.Add(await StartWorkerAsync(model, env));
            var client = new LcmJobClient(connection, new LcmJobClientOptions { Names = new StorageNames { JobsQueue = queue, ResultsQueue = null }, PollInterval = TimeSpan.FromMilliseconds(100) });
            var submitted = await Task.WhenAll(Enumerable.Range(0, jobs).Select(i =>
                client.SubmitAsync(new JobRequest { Prompt = $"a photo of a cat, number {i}", Seed = i })));
            var finished = await Task.WhenAll(submitted.Select(s => client.WaitForCompletionAsync(s.Id, TimeSpan.FromMinutes(10))));
            var latencies = finished.Select(s => (s.CompletedAt!.Value - s.CreatedAt).TotalMilliseconds).Order().ToArray();
            double span = (finished.Max(s => s.CompletedAt!.Value) - finished.Min(s => s.CreatedAt)).TotalSeconds;
            var image = finished.SelectMany(s => s.Images).FirstOrDefault();
            return new Figures(jobs / span, Percentile(latencies, 0.5), Percentile(latencies, 0.95), finished.Count(s => s.Status != JobState.Succeeded),
                image is null ? null : $"{image.Width}x{image.Height}");
        }
        finally
        {
            foreach (var process in processes)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                process.Dispose();
            }
        }
    }

    private static async Task<Process> StartWorkerAsync(string model, IReadOnlyDictionary<string, string> env)
    {
        var process = Process.Start(SelfProcess.StartInfo(["worker", "--model", model], env))!;
        var ready = new TaskCompletionSource();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Worker ready", StringComparison.Ordinal) == true) ready.TrySetResult();
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(2))) != ready.Task)
            throw new InvalidOperationException("a benchmark worker did not become ready");
        return process;
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
