using Lcm.Contracts;

namespace Lcm.Jobs;

/// <summary>The limits and tools of video-to-video jobs (LCM_FFMPEG, LCM_FFMPEG_TIMEOUT_SECONDS, LCM_MAX_VIDEO_*, LCM_VIDEO_CHUNK_FRAMES).</summary>
public sealed record VideoOptions
{
    /// <summary>The ffmpeg executable (LCM_FFMPEG); null looks for ffmpeg on PATH. ffprobe is taken from the same folder.</summary>
    public string? Ffmpeg { get; init; }
    /// <summary>How long one ffmpeg or ffprobe run may take before it is killed.</summary>
    public TimeSpan ToolTimeout { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>The most frames any job may have (LCM_MAX_VIDEO_FRAMES): video.maxFrames may ask for fewer, not more.</summary>
    public int MaxFrames { get; init; } = RequestLimits.DefaultVideoMaxFrames;
    /// <summary>The longest part of a source a job may process, in seconds (LCM_MAX_VIDEO_SECONDS).</summary>
    public double MaxSeconds { get; init; } = 60;
    /// <summary>The largest input file (LCM_MAX_VIDEO_BYTES).</summary>
    public long MaxBytes { get; init; } = 200L * 1024 * 1024;
    /// <summary>Frames per chunk message (LCM_VIDEO_CHUNK_FRAMES): small enough that every replica gets some, large enough to fill a batch.</summary>
    public int ChunkFrames { get; init; } = 8;

    public static VideoOptions FromSettings(Func<string, string?> read)
    {
        var options = new VideoOptions();
        if (read("LCM_FFMPEG") is { Length: > 0 } ffmpeg) options = options with { Ffmpeg = ffmpeg };
        if (Settings.ReadInt(read, "LCM_FFMPEG_TIMEOUT_SECONDS", 1, 3600) is int timeout) options = options with { ToolTimeout = TimeSpan.FromSeconds(timeout) };
        if (Settings.ReadInt(read, "LCM_MAX_VIDEO_FRAMES", 1, RequestLimits.MaxVideoFrames) is int frames) options = options with { MaxFrames = frames };
        if (Settings.ReadInt(read, "LCM_MAX_VIDEO_SECONDS", 1, 3600) is int seconds) options = options with { MaxSeconds = seconds };
        if (Settings.ReadInt(read, "LCM_MAX_VIDEO_BYTES", 1, int.MaxValue) is int bytes) options = options with { MaxBytes = bytes };
        if (Settings.ReadInt(read, "LCM_VIDEO_CHUNK_FRAMES", 1, 64) is int chunk) options = options with { ChunkFrames = chunk };
        return options;
    }
}
