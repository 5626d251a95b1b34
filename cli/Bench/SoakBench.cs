namespace Lcm.Cli;

/// <summary>
/// A longer run than the fault tests: N jobs sent at once to two <c>lcm worker</c> processes on an
/// Azurite of its own, optionally killing one (SIGKILL) once half the jobs are done, so that its
/// messages come back after their lease and another worker finishes them: throughput, latency and
/// the attempts it took. Reports what did not succeed; asserts nothing.
/// </summary>
internal static class SoakBench
{
    /// <summary>Short, so a killed worker's jobs come back within seconds (renewed while they run).</summary>
    private const int LeaseSeconds = 5;

    public static async Task<object> RunAsync(string model, int jobs, bool killWorker, ConsoleProgress progress)
    {
        using var azurite = await Azurite.StartAsync();
        string queue = $"soak-{Guid.NewGuid():N}"[..20];
        var env = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString,
            ["LCM_JOBS_QUEUE"] = queue,
            ["LCM_PUBLISH_RESULTS"] = "false",
            ["LCM_EXECUTION_PROVIDER"] = "cpu",
            ["LCM_MESSAGE_LEASE_SECONDS"] = $"{LeaseSeconds}",
        };
        await using var workers = await WorkerProcesses.StartAsync(model, env, 2);
        var finished = await BenchJobs.RunAsync(BenchJobs.Client(azurite.ConnectionString, queue), jobs, done =>
        {
            progress.Report(done, jobs, $"soak: {done}/{jobs} jobs finished");
            if (!killWorker || done != Math.Max(1, jobs / 2)) return;
            workers.Kill(0);
            progress.Line($"soak: killed worker 1 of 2 (SIGKILL) after {done} of {jobs} jobs");
        });
        var figures = JobFigures.Of(finished);
        progress.Line($"soak, 2 workers{(killWorker ? ", one killed midway" : "")}: {figures}");
        return new { jobs, workers = 2, killedWorker = killWorker, leaseSeconds = LeaseSeconds, size = "512x512", steps = 4,
            figures.Succeeded, figures.Failed, figures.JobsPerSecond, p50Ms = figures.P50Ms, p95Ms = figures.P95Ms, figures.Attempts };
    }
}
