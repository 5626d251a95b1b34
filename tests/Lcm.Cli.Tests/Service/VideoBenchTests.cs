using System.Text.Json;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary><c>lcm bench --only video</c>, once: a 48-frame job on 1 and 2 fresh worker processes on an Azurite of its own.</summary>
[Collection(ServiceCollection.Name)]
public sealed class VideoBenchTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Video_bench_prints_frames_per_second_with_one_and_two_workers_and_their_ratio()
    {
        var bench = await CliProcess.RunAsync(["bench", "--only", "video", "--runs", "1", "--model", fixture.ModelPath, "--json"],
            output: output, timeout: TimeSpan.FromMinutes(4));

        Assert.True(bench.ExitCode == 0, bench.Stderr);
        var video = JsonDocument.Parse(bench.Stdout).RootElement.GetProperty("video");
        output.WriteLine($"video figures: {video}");
        Assert.Equal(48, video.GetProperty("frames").GetInt32());
        var runs = video.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal([1, 2], runs.Select(r => r.GetProperty("workers").GetInt32()));
        Assert.All(runs, r => Assert.True(r.GetProperty("framesPerSecond").GetDouble() > 0));
        double ratio = runs[1].GetProperty("framesPerSecond").GetDouble() / runs[0].GetProperty("framesPerSecond").GetDouble();
        Assert.Equal(ratio, video.GetProperty("scaling").GetProperty("median").GetDouble(), 9);
    }
}
