using Lcm.Contracts;
using Lcm.Jobs;
using Lcm.Jobs.Video;

namespace Lcm.Cli;

/// <summary>
/// One video job of a 48-frame clip (testsrc, 256x256, 8 fps, made by ffmpeg) through Azurite to 1 and
/// 2 local worker processes, repeated: frames per second from submit to succeeded, and each repeat's
/// scaling (2 workers against 1 in the same repeat), as median and range, so the fan-out's gain shows.
/// </summary>
internal static class VideoBench
{
    private const int Frames = 48;

    public static async Task<object> RunAsync(string model, int repeats, ConsoleProgress progress)
    {
        byte[] clip = await ClipAsync();
        using var azurite = await Azurite.StartAsync();
        var runs = new List<(int Repeat, int Workers, double FramesPerSecond)>();
        for (int repeat = 0; repeat < repeats; repeat++)
        {
            foreach (int workers in repeat % 2 == 0 ? new[] { 1, 2 } : [2, 1])
            {
                string setup = $"video {repeat + 1}/{repeats}: {Frames} frames, {workers} worker(s)";
                progress.Report(runs.Count, 2 * repeats, setup);
                double fps = await RunOneAsync(azurite.ConnectionString, model, clip, workers);
                runs.Add((repeat, workers, fps));
                progress.Line($"{setup}: {fps:F2} frames/s");
            }
        }
        var one = Spread.Of(runs.Where(r => r.Workers == 1).Select(r => r.FramesPerSecond));
        var two = Spread.Of(runs.Where(r => r.Workers == 2).Select(r => r.FramesPerSecond));
        var scaling = Spread.Of(runs.Where(r => r.Workers == 2).Select(r => r.FramesPerSecond / runs.Single(o => o.Repeat == r.Repeat && o.Workers == 1).FramesPerSecond));
        progress.Line($"video summary: 1 worker {one.Format("F2")} frames/s, 2 workers {two.Format("F2")} frames/s, scaling {scaling.Format("F2")}x");
        return new { frames = Frames, size = "256x256", steps = 4, chunkFrames = 8, repeats, oneWorker = one, twoWorkers = two, scaling,
            runs = runs.Select(r => new { repeat = r.Repeat, workers = r.Workers, framesPerSecond = r.FramesPerSecond }) };
    }

    private static async Task<double> RunOneAsync(string connection, string model, byte[] clip, int workers)
    {
        string queue = $"bench-{Guid.NewGuid():N}"[..20];
        var env = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = connection,
            ["LCM_JOBS_QUEUE"] = queue,
            ["LCM_PUBLISH_RESULTS"] = "false",
            ["LCM_VIDEO_CHUNK_FRAMES"] = "8",
            ["LCM_EXECUTION_PROVIDER"] = "cpu",
        };
        await using var processes = await WorkerProcesses.StartAsync(model, env, workers);
        var client = BenchJobs.Client(connection, queue);
        var submitted = await client.SubmitVideoAsync(new JobRequest { Prompt = "a watercolour", Steps = 4, Seed = 1 }, new MemoryStream(clip));
        var done = await client.WaitForCompletionAsync(submitted.Id, TimeSpan.FromMinutes(30));
        if (done.Status != JobState.Succeeded) throw new InvalidOperationException($"the bench's video job ended {done.Status}: {done.Error?.Code}: {done.Error?.Message}");
        return done.Video!.Frames / (done.CompletedAt!.Value - done.CreatedAt).TotalSeconds;
    }

    private static async Task<byte[]> ClipAsync()
    {
        string file = Path.Combine(Path.GetTempPath(), $"lcm-bench-{Guid.NewGuid():N}.mp4");
        try
        {
            await Ffmpeg.Locate(WorkerSettings.FromEnvironment().Processor.Video).RunAsync(
                ["-f", "lavfi", "-i", $"testsrc=size=256x256:rate=8:duration={Frames / 8}", "-c:v", "libx264", "-pix_fmt", "yuv420p", file], CancellationToken.None);
            return await File.ReadAllBytesAsync(file);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
