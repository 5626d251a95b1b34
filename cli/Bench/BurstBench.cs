namespace Lcm.Cli;

/// <summary>
/// A burst of jobs sent at once through Azurite to 1 and 2 local worker processes, with dynamic
/// batching off and on: throughput, and latency from enqueue to succeeded (from the status times).
/// </summary>
internal static class BurstBench
{
    public static async Task<object> RunAsync(string model, int jobs, int batchImages, ConsoleProgress progress)
    {
        using var azurite = await Azurite.StartAsync();
        var results = new List<object>();
        string? size = null;
        foreach (int workers in new[] { 1, 2 })
        {
            foreach (bool batching in new[] { false, true })
            {
                progress.Report(results.Count, 4, $"burst {jobs} jobs, {workers} worker(s), batching {(batching ? "on" : "off")}");
                var figures = await RunOneAsync(azurite.ConnectionString, model, jobs, workers, batching ? batchImages : 1);
                size = figures.Size;
                progress.Line($"burst {jobs} jobs, {workers} worker(s), batching {(batching ? "on" : "off")}: {figures.JobsPerSecond:F2} jobs/s, p50 {figures.P50Ms:F0} ms, p95 {figures.P95Ms:F0} ms");
                results.Add(new { workers, batching, figures.JobsPerSecond, p50Ms = figures.P50Ms, p95Ms = figures.P95Ms, figures.Failed });
            }
        }
        return new { jobs, batchMaxImages = batchImages, size, steps = 4, runs = results };
    }

    private static async Task<JobFigures> RunOneAsync(string connection, string model, int jobs, int workers, int batchImages)
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
        await using var processes = await WorkerProcesses.StartAsync(model, env, workers);
        return JobFigures.Of(await BenchJobs.RunAsync(BenchJobs.Client(connection, queue), jobs));
    }
}
