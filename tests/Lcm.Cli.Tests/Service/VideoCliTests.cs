using System.Text;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary><c>lcm video</c> (local) and <c>lcm submit --video</c> (through the queue) as separate processes.</summary>
[Collection(ServiceCollection.Name)]
public sealed class VideoCliTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Video_turns_a_clip_into_an_mp4_of_its_frames_the_same_bytes_each_time_and_frames_into_pngs()
    {
        string folder = Directory.CreateTempSubdirectory("lcm-video-cli-").FullName;
        try
        {
            string input = Path.Combine(folder, "in.webm");
            await File.WriteAllBytesAsync(input, TestVideos.Clip("webm", size: "100x64"));
            string[] common = ["video", "--input", input, "--prompt", "a watercolour", "--steps", "2", "--seed", "5", "--fps", "4", "--model", fixture.ModelPath];

            var first = await CliProcess.RunAsync([.. common, "--output", Path.Combine(folder, "a.mp4")], output: output);
            var second = await CliProcess.RunAsync([.. common, "--output", Path.Combine(folder, "b.mp4")], output: output);
            var frames = await CliProcess.RunAsync([.. common, "--output", Path.Combine(folder, "frames"), "--format", "frames"], output: output);

            Assert.True(first.ExitCode == 0, first.Stderr);
            Assert.Contains("frame 8/8", first.Stderr);
            Assert.Contains("8 frames at 4 fps, 96x64, seed 5", first.Stdout);
            byte[] video = await File.ReadAllBytesAsync(Path.Combine(folder, "a.mp4"));
            Assert.Equal((8, 4.0, false), TestVideos.Probe(video));
            Assert.Equal(video, await File.ReadAllBytesAsync(Path.Combine(folder, "b.mp4")));
            Assert.True(frames.ExitCode == 0, frames.Stderr);
            Assert.Equal(8, Directory.GetFiles(Path.Combine(folder, "frames"), "*.png").Length);
            ServiceStorage.AssertImage(await File.ReadAllBytesAsync(Path.Combine(folder, "frames", "000000.png")), "PNG", 96, 64);

            await File.WriteAllTextAsync(input, "not a video");
            var refused = await CliProcess.RunAsync([.. common, "--output", Path.Combine(folder, "c.mp4")], output: output);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("invalid_video", refused.Stderr);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Submit_video_waits_with_frame_progress_and_saves_the_video()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartLocalAsync(fixture, TestWorker.Settings(names), output);
        string folder = Directory.CreateTempSubdirectory("lcm-video-submit-").FullName;
        try
        {
            string input = Path.Combine(folder, "in.mp4");
            await File.WriteAllBytesAsync(input, TestVideos.Clip(seconds: 1));
            var submit = await CliProcess.RunAsync(["submit", "--video", input, "--prompt", "a watercolour", "--steps", "2", "--video-format", "gif",
                "--wait", "--output", Path.Combine(folder, "out"), "--connection", fixture.ConnectionString],
                new Dictionary<string, string> { ["LCM_JOBS_QUEUE"] = names.JobsQueue, ["LCM_RESULTS_QUEUE"] = names.ResultsQueue! }, output: output);

            Assert.True(submit.ExitCode == 0, submit.Stderr);
            var final = JobStatus.FromJson(Encoding.UTF8.GetBytes(submit.Stdout));
            Assert.Equal(JobState.Succeeded, final.Status);
            Assert.Contains($"job {final.Id}: frame ", submit.Stderr);
            byte[] saved = await File.ReadAllBytesAsync(Path.Combine(folder, "out", $"{final.Id}-video.gif"));
            Assert.Equal(8, TestVideos.Probe(saved).Frames);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
