using Lcm.Jobs;

namespace Lcm.Tests.Jobs;

/// <summary>The video settings as the worker reads them: the defaults, each setting, and a refusal that names it.</summary>
public class VideoSettingsTests
{
    [Fact]
    public void Video_settings_have_defaults_and_are_read_by_name()
    {
        Assert.Equal(new VideoOptions(), WorkerSettings.FromEnvironment(_ => null).Processor.Video);
        var values = new Dictionary<string, string>
        {
            ["LCM_FFMPEG"] = "/opt/ffmpeg/bin/ffmpeg",
            ["LCM_FFMPEG_TIMEOUT_SECONDS"] = "30",
            ["LCM_MAX_VIDEO_FRAMES"] = "48",
            ["LCM_MAX_VIDEO_SECONDS"] = "10",
            ["LCM_MAX_VIDEO_BYTES"] = "1000000",
            ["LCM_VIDEO_CHUNK_FRAMES"] = "4",
        };
        var video = WorkerSettings.FromEnvironment(values.GetValueOrDefault).Processor.Video;

        Assert.Equal(new VideoOptions
        {
            Ffmpeg = "/opt/ffmpeg/bin/ffmpeg",
            ToolTimeout = TimeSpan.FromSeconds(30),
            MaxFrames = 48,
            MaxSeconds = 10,
            MaxBytes = 1_000_000,
            ChunkFrames = 4,
        }, video);
        var refused = Assert.Throws<ArgumentException>(() => VideoOptions.FromSettings(name => name == "LCM_MAX_VIDEO_FRAMES" ? "5000" : null));
        Assert.Contains("LCM_MAX_VIDEO_FRAMES", refused.Message);
    }
}
