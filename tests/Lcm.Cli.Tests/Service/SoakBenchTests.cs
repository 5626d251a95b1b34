using System.Text.Json;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary><c>lcm bench --only soak</c>, tiny: it starts its own Azurite and two worker processes, and kills one midway.</summary>
[Collection(ServiceCollection.Name)]
public sealed class SoakBenchTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Soak_with_a_worker_killed_midway_finishes_every_job_and_prints_its_figures()
    {
        var bench = await CliProcess.RunAsync(["bench", "--only", "soak", "--jobs", "6", "--kill-worker", "--model", fixture.ModelPath, "--json"],
            output: output, timeout: TimeSpan.FromMinutes(3));

        Assert.True(bench.ExitCode == 0, bench.Stderr);
        Assert.Contains("soak: killed worker 1 of 2 (SIGKILL) after 3 of 6 jobs", bench.Stderr);
        var soak = JsonDocument.Parse(bench.Stdout).RootElement.GetProperty("soak");
        output.WriteLine($"soak figures: {soak}");
        Assert.Equal((6, 0, true), (soak.GetProperty("succeeded").GetInt32(), soak.GetProperty("failed").GetInt32(), soak.GetProperty("killedWorker").GetBoolean()));
        // The killed worker's jobs took a second attempt; no job took none.
        Assert.InRange(soak.GetProperty("attempts").GetInt32(), 6, 12);
        Assert.True(soak.GetProperty("p95Ms").GetDouble() >= soak.GetProperty("p50Ms").GetDouble());
    }
}
