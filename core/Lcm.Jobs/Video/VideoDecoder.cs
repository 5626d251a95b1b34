using System.Globalization;
using System.Text.Json;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;

namespace Lcm.Jobs.Video;

/// <summary>
/// A video job's source, detected from its content: MP4, MOV, WebM (and Matroska) through ffmpeg,
/// animated GIF and WebP through ImageSharp. The demuxer is named to ffmpeg from the detected container, so
/// no other (a playlist's, which would open more files) ever reads a caller's bytes.
/// </summary>
internal sealed class VideoDecoder(VideoOptions options, ImageInputLimits limits)
{
    public async Task<VideoFrames> DecodeAsync(byte[] bytes, JobVideo video, CancellationToken cancellationToken)
    {
        if (AnimatedImage.Is(bytes)) return AnimatedImage.Decode(bytes, video, options, limits);
        string demuxer = Demuxer(bytes) ?? throw new InvalidRequestException(JobErrorCodes.InvalidVideo,
            "the video is not MP4, MOV, WebM, or an animated GIF or WebP (detected from its content)");
        var ffmpeg = Ffmpeg.Locate(options);
        string folder = Directory.CreateTempSubdirectory("lcm-video-").FullName;
        try
        {
            string input = Path.Combine(folder, "input");
            await File.WriteAllBytesAsync(input, bytes, cancellationToken);
            var source = await ProbeAsync(ffmpeg, demuxer, input, cancellationToken);
            var window = VideoWindow.Of(video, source, options, limits);
            string frames = Directory.CreateDirectory(Path.Combine(folder, "frames")).FullName;
            try
            {
                // One frame past the plan shows an estimate that was short, without decoding the rest.
                await ffmpeg.RunAsync([
                    "-protocol_whitelist", "file", "-f", demuxer, "-ss", Number(window.Start), "-i", input,
                    "-t", Number(window.Seconds), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", $"fps={Number(window.Fps)}",
                    "-frames:v", (window.Frames + 1).ToString(CultureInfo.InvariantCulture), "-c:v", "png", "-f", "image2",
                    Path.Combine(frames, "%06d.png")], cancellationToken);
            }
            catch (ToolFailedException e)
            {
                throw new InvalidRequestException(JobErrorCodes.InvalidVideo, $"the video could not be decoded: {e.Message}");
            }
            string[] files = Directory.GetFiles(frames, "*.png").Order(StringComparer.Ordinal).ToArray();
            int maxFrames = VideoWindow.MaxFrames(video, options);
            if (files.Length > maxFrames) throw VideoWindow.TooManyFrames(files.Length, maxFrames);
            if (files.Length == 0) throw new InvalidRequestException(JobErrorCodes.InvalidVideo, "the video has no frame between video.start and its end");
            var pngs = new List<byte[]>();
            foreach (string file in files) pngs.Add(await File.ReadAllBytesAsync(file, cancellationToken));
            return new VideoFrames(pngs, window.Fps, source.Width, source.Height);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Whether the bytes are a container or animation that a video job can take, by their content.</summary>
    public static bool IsVideo(ReadOnlySpan<byte> bytes) => AnimatedImage.Is(bytes) || Demuxer(bytes) is not null;

    /// <summary>ffmpeg's demuxer for the container the bytes start with, or null for anything else.</summary>
    private static string? Demuxer(ReadOnlySpan<byte> bytes)
    {
        // EBML header: Matroska and WebM.
        if (bytes.StartsWith(new byte[] { 0x1A, 0x45, 0xDF, 0xA3 })) return "matroska";
        // ISO base media (MP4) and QuickTime (MOV) open with a box: size, then its type.
        if (bytes.Length >= 8 && System.Text.Encoding.ASCII.GetString(bytes[4..8]) is "ftyp" or "moov" or "mdat" or "wide" or "free" or "skip") return "mov";
        return null;
    }

    private static async Task<SourceVideo> ProbeAsync(Ffmpeg ffmpeg, string demuxer, string input, CancellationToken cancellationToken)
    {
        string json;
        try
        {
            json = await ffmpeg.ProbeAsync(["-v", "error", "-protocol_whitelist", "file", "-f", demuxer,
                "-show_entries", "stream=codec_type,width,height,avg_frame_rate,r_frame_rate:format=duration", "-of", "json", input], cancellationToken);
        }
        catch (ToolFailedException e)
        {
            throw new InvalidRequestException(JobErrorCodes.InvalidVideo, $"the video could not be read: {e.Message}");
        }
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var stream = root.TryGetProperty("streams", out var streams)
            ? streams.EnumerateArray().FirstOrDefault(s => s.TryGetProperty("codec_type", out var type) && type.GetString() == "video") : default;
        if (stream.ValueKind != JsonValueKind.Object)
            throw new InvalidRequestException(JobErrorCodes.InvalidVideo, "the file has no video stream (an audio-only file?); give a video");
        double seconds = root.TryGetProperty("format", out var format) && format.TryGetProperty("duration", out var duration)
            && double.TryParse(duration.GetString(), CultureInfo.InvariantCulture, out double d) ? d : 0;
        double fps = Rate(stream, "avg_frame_rate") ?? Rate(stream, "r_frame_rate") ?? 0;
        int width = stream.TryGetProperty("width", out var w) ? w.GetInt32() : 0, height = stream.TryGetProperty("height", out var h) ? h.GetInt32() : 0;
        if (seconds <= 0 || fps <= 0 || width <= 0 || height <= 0)
            throw new InvalidRequestException(JobErrorCodes.InvalidVideo, $"the video's stream has no usable size, length or frame rate ({width}x{height}, {seconds} s, {fps} fps)");
        return new SourceVideo(width, height, seconds, fps);
    }

    /// <summary>A rate as ffprobe writes it, "30000/1001"; null for "0/0".</summary>
    private static double? Rate(JsonElement stream, string name)
    {
        if (!stream.TryGetProperty(name, out var value) || value.GetString()?.Split('/') is not [string n, string d]) return null;
        return double.TryParse(n, CultureInfo.InvariantCulture, out double num) && double.TryParse(d, CultureInfo.InvariantCulture, out double den) && num > 0 && den > 0
            ? num / den : null;
    }

    private static string Number(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
