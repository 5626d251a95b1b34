using System.Text.Json;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary><c>lcm bench --only burst</c>, tiny: two repeats of the four set-ups, each with fresh worker processes on an Azurite of its own.</summary>
[Collection(ServiceCollection.Name)]
public sealed class BurstBenchTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Burst_repeats_every_setup_and_prints_medians_spreads_and_paired_gains()
    {
        var bench = await CliProcess.RunAsync(["bench", "--only", "burst", "--jobs", "4", "--runs", "2", "--model", fixture.ModelPath, "--json"],
            output: output, timeout: TimeSpan.FromMinutes(4));

        Assert.True(bench.ExitCode == 0, bench.Stderr);
        var burst = JsonDocument.Parse(bench.Stdout).RootElement.GetProperty("burst");
        output.WriteLine($"burst figures: {burst}");
        var runs = burst.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(8, runs.Count);
        Assert.All(runs, r => Assert.Equal(0, r.GetProperty("failed").GetInt32()));
        // The workers did the work, so each image cost them CPU time.
        Assert.All(runs, r => Assert.True(r.GetProperty("cpuSecondsPerImage").GetDouble() > 0));
        // Odd repeats run batching first: the order alternates.
        var firstOfEachRepeat = runs.Where(r => r.GetProperty("workers").GetInt32() == 1).Chunk(2).Select(pair => pair[0].GetProperty("batching").GetBoolean());
        Assert.Equal([false, true], firstOfEachRepeat);

        var summary = burst.GetProperty("summary").EnumerateArray().ToList();
        Assert.Equal(4, summary.Count);
        foreach (var setup in summary)
        {
            var jobsPerSecond = setup.GetProperty("jobsPerSecond");
            Assert.InRange(jobsPerSecond.GetProperty("median").GetDouble(), jobsPerSecond.GetProperty("min").GetDouble(), jobsPerSecond.GetProperty("max").GetDouble());
            bool batching = setup.GetProperty("batching").GetBoolean();
            Assert.Equal(batching, setup.GetProperty("batchingGain").ValueKind == JsonValueKind.Object);
        }
        var gain = summary.Single(s => s.GetProperty("workers").GetInt32() == 1 && s.GetProperty("batching").GetBoolean()).GetProperty("batchingGain");
        var oneWorker = runs.Where(r => r.GetProperty("workers").GetInt32() == 1).ToList();
        // Each repeat's gain is its own pair's ratio, so the range of the gains is that of the paired ratios.
        var ratios = oneWorker.GroupBy(r => r.GetProperty("repeat").GetInt32()).Select(g =>
            g.Single(r => r.GetProperty("batching").GetBoolean()).GetProperty("jobsPerSecond").GetDouble()
            / g.Single(r => !r.GetProperty("batching").GetBoolean()).GetProperty("jobsPerSecond").GetDouble()).ToList();
        Assert.Equal(ratios.Min(), gain.GetProperty("min").GetDouble(), 9);
        Assert.Equal(ratios.Max(), gain.GetProperty("max").GetDouble(), 9);
    }
}
