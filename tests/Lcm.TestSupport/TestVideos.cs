using System.Diagnostics;

namespace Lcm.Tests;

/// <summary>Clips that ffmpeg generates (lavfi's testsrc and sine), for video-to-video tests; ffmpeg must be on PATH (.ci/run installs it).</summary>
public static class TestVideos
{
    /// <summary>testsrc at <paramref name="size"/> and <paramref name="rate"/> for <paramref name="seconds"/>, with a sine tone as audio, in <paramref name="container"/> (mp4, webm, mov, gif).</summary>
    public static byte[] Clip(string container = "mp4", string size = "64x64", int rate = 8, double seconds = 2, bool audio = true)
    {
        string duration = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        List<string> arguments = ["-f", "lavfi", "-i", $"testsrc=size={size}:rate={rate}:duration={duration}"];
        if (audio && container is not ("gif" or "webp")) arguments.AddRange(["-f", "lavfi", "-i", $"sine=frequency=440:duration={duration}"]);
        arguments.AddRange(container switch
        {
            "webm" => ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-deadline", "realtime"],
            "gif" => [],
            // Lossless, so a test can compare the decoded frames with testsrc's own; libwebp_anim writes later frames as blended sub-rectangles.
            "webp" => ["-c:v", "libwebp_anim", "-lossless", "1", "-loop", "0"],
            _ => ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        });
        return Run(container, arguments);
    }

    /// <summary>testsrc's own frames as PNG files, as <see cref="Clip"/> encodes them.</summary>
    public static IReadOnlyList<byte[]> Frames(string size = "64x64", int rate = 8, double seconds = 2)
    {
        string folder = Directory.CreateTempSubdirectory("testsrc-").FullName;
        try
        {
            Tool("ffmpeg", ["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", $"testsrc=size={size}:rate={rate}:duration={seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
                Path.Combine(folder, "%06d.png")]);
            return Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A sine tone in an MP4 (M4A) container: a file with no video stream.</summary>
    public static byte[] AudioOnly() => Run("mp4", ["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac"]);

    /// <summary>What ffprobe says of a video: the frames of its video stream, its rate and whether it has an audio stream.</summary>
    public static (int Frames, double Fps, bool Audio) Probe(byte[] video)
    {
        string file = Path.Combine(Path.GetTempPath(), $"probe-{Guid.NewGuid():N}");
        File.WriteAllBytes(file, video);
        try
        {
            string output = Tool("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames,avg_frame_rate", "-of", "csv=p=0", file]);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var video0 = lines.First(l => l.StartsWith("video", StringComparison.Ordinal)).Split(',');
            var rate = video0[1].Split('/');
            return (int.Parse(video0[2]), double.Parse(rate[0]) / double.Parse(rate[1]), lines.Any(l => l.StartsWith("audio", StringComparison.Ordinal)));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static byte[] Run(string container, List<string> arguments)
    {
        string file = Path.Combine(Path.GetTempPath(), $"clip-{Guid.NewGuid():N}.{container}");
        try
        {
            Tool("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", .. arguments, "-y", file]);
            return File.ReadAllBytes(file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Tool(string tool, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(60_000)) process.Kill();
        return process.ExitCode == 0 ? stdout.Result : throw new InvalidOperationException($"{tool} failed: {stderr}");
    }
}
