using System.Globalization;
using Lcm.Contracts;
using Lcm.Engine;

namespace Lcm.Jobs.Video;

/// <summary>
/// Encodes a job's output frames (PNG, in order) into its video, without audio, at the job's rate.
/// The flags are fixed and bit-exact, so a repeated assembly writes the same bytes.
/// </summary>
internal sealed class VideoEncoder(VideoOptions options)
{
    public static string ContentType(string format) => format switch
    {
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "gif" => "image/gif",
        _ => throw new ArgumentException($"'{format}' is not a video format", nameof(format)),
    };

    public async Task<byte[]> EncodeAsync(IReadOnlyList<byte[]> pngs, double fps, string format, CancellationToken cancellationToken)
    {
        var ffmpeg = Ffmpeg.Locate(options);
        string folder = Directory.CreateTempSubdirectory("lcm-encode-").FullName;
        try
        {
            for (int i = 0; i < pngs.Count; i++)
                await File.WriteAllBytesAsync(Path.Combine(folder, $"{i:D6}.png"), pngs[i], cancellationToken);
            string output = Path.Combine(folder, "output." + format);
            // Never more than the frames themselves, uncompressed: a bound no encoder should reach.
            long limit = pngs.Sum(p => (long)p.Length) * 4 + 1024 * 1024;
            await ffmpeg.RunAsync([
                "-framerate", fps.ToString("0.######", CultureInfo.InvariantCulture), "-f", "image2", "-i", Path.Combine(folder, "%06d.png"),
                .. Codec(format), "-an", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                "-fs", limit.ToString(CultureInfo.InvariantCulture), output], cancellationToken);
            // ffmpeg ends a file at -fs without failing: a file that reached it is cut short.
            return new FileInfo(output).Length < limit ? await File.ReadAllBytesAsync(output, cancellationToken)
                : throw new ToolFailedException($"ffmpeg's output reached its limit of {limit} bytes");
        }
        catch (ToolFailedException e)
        {
            throw new InvalidRequestException(JobErrorCodes.VideoToolFailed, $"the output video could not be encoded: {e.Message}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string[] Codec(string format) => format switch
    {
        "mp4" => ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "medium", "-crf", "18", "-movflags", "+faststart", "-f", "mp4"],
        // One thread and no row multithreading: VP9's output then does not depend on the machine's cores.
        "webm" => ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "0", "-crf", "30", "-threads", "1", "-row-mt", "0", "-f", "webm"],
        "gif" => ["-filter_complex", "split[a][b];[a]palettegen[p];[b][p]paletteuse", "-f", "gif"],
        _ => throw new ArgumentException($"'{format}' is not a video format", nameof(format)),
    };
}
