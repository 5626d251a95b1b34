namespace Lcm.Cli;

/// <summary>
/// A burst of jobs sent at once through Azurite to 1 and 2 local worker processes, with dynamic
/// batching off and on, repeated: throughput, latency from enqueue to succeeded (from the status
/// times) and the workers' CPU-seconds per image, each as median and range over the repeats. Off and
/// on run back to back in alternating order, and each repeat's batching gain is the ratio of its own
/// pair, so drift in the machine's load lands in the spread instead of in the ratio.
/// </summary>
internal static class BurstBench
{
    public static async Task<object> RunAsync(string model, int jobs, int batchImages, int repeats, ConsoleProgress progress)
    {
        using var azurite = await Azurite.StartAsync();
        var runs = new List<BurstRun>();
        string? size = null;
        for (int repeat = 0; repeat < repeats; repeat++)
        {
            foreach (int workers in new[] { 1, 2 })
            {
                bool[] order = repeat % 2 == 0 ? [false, true] : [true, false];
                foreach (bool batching in order)
                {
                    string setup = $"burst {repeat + 1}/{repeats}: {jobs} jobs, {workers} worker(s), batching {(batching ? "on" : "off")}";
                    progress.Report(runs.Count, 4 * repeats, setup);
                    var run = await RunOneAsync(azurite.ConnectionString, model, jobs, repeat, workers, batching, batchImages);
                    size ??= run.Figures.Size;
                    runs.Add(run);
                    progress.Line($"{setup}: {run.Figures.JobsPerSecond:F2} jobs/s, p50 {run.Figures.P50Ms:F0} ms, p95 {run.Figures.P95Ms:F0} ms, {run.CpuSecondsPerImage:F2} CPU-s/image");
                }
            }
        }
        var summary = runs.GroupBy(r => (r.Workers, r.Batching)).Select(g => Summarize(g.Key.Workers, g.Key.Batching, g.ToList(), runs)).ToList();
        foreach (var line in summary) progress.Line(line.ToString());
        return new { jobs, batchMaxImages = batchImages, size, steps = 4, repeats, summary, runs = runs.Select(r => r.ToJson()) };
    }

    private static BurstSummary Summarize(int workers, bool batching, List<BurstRun> group, List<BurstRun> all)
    {
        // The gain of each repeat: its batched run against the plain run of the same repeat and worker count.
        Spread? gain = batching
            ? Spread.Of(group.Select(on => on.Figures.JobsPerSecond / all.Single(off => off.Repeat == on.Repeat && off.Workers == workers && !off.Batching).Figures.JobsPerSecond))
            : null;
        return new BurstSummary(workers, batching,
            Spread.Of(group.Select(r => r.Figures.JobsPerSecond)),
            Spread.Of(group.Select(r => r.Figures.P50Ms)),
            Spread.Of(group.Select(r => r.Figures.P95Ms)),
            Spread.Of(group.Select(r => r.CpuSecondsPerImage)),
            gain,
            group.Sum(r => r.Figures.Failed));
    }

    private static async Task<BurstRun> RunOneAsync(string connection, string model, int jobs, int repeat, int workers, bool batching, int batchImages)
    {
        string queue = $"bench-{Guid.NewGuid():N}"[..20];
        var env = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = connection,
            ["LCM_JOBS_QUEUE"] = queue,
            ["LCM_PUBLISH_RESULTS"] = "false",
            ["LCM_BATCH_MAX_IMAGES"] = $"{(batching ? batchImages : 1)}",
            ["LCM_EXECUTION_PROVIDER"] = "cpu",
        };
        await using var processes = await WorkerProcesses.StartAsync(model, env, workers);
        var cpuAtReady = processes.CpuTime();
        var figures = JobFigures.Of(await BenchJobs.RunAsync(BenchJobs.Client(connection, queue), jobs));
        double cpuSeconds = (processes.CpuTime() - cpuAtReady).TotalSeconds;
        return new BurstRun(repeat, workers, batching, figures, cpuSeconds / Math.Max(1, figures.Succeeded));
    }

    private sealed record BurstRun(int Repeat, int Workers, bool Batching, JobFigures Figures, double CpuSecondsPerImage)
    {
        public object ToJson() => new
        {
            repeat = Repeat, workers = Workers, batching = Batching, Figures.JobsPerSecond, p50Ms = Figures.P50Ms, p95Ms = Figures.P95Ms,
            cpuSecondsPerImage = CpuSecondsPerImage, Figures.Failed,
        };
    }

    private sealed record BurstSummary(int Workers, bool Batching, Spread JobsPerSecond, Spread P50Ms, Spread P95Ms, Spread CpuSecondsPerImage, Spread? BatchingGain, int Failed)
    {
        public override string ToString() =>
            $"burst summary, {Workers} worker(s), batching {(Batching ? "on" : "off")}: {JobsPerSecond.Format("F2")} jobs/s" +
            (BatchingGain is { } gain ? $" (gain {gain.Format("F2")}x)" : "") +
            $", p50 {P50Ms.Format("F0")} ms, p95 {P95Ms.Format("F0")} ms, {CpuSecondsPerImage.Format("F2")} CPU-s/image" +
            (Failed > 0 ? $", {Failed} failed" : "");
    }
}
