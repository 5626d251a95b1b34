using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Jobs.Video;

/// <summary>An animated GIF as a job's frames: each output frame is the GIF frame shown at its time, composited as ImageSharp decodes it.</summary>
internal static class AnimatedGif
{
    /// <summary>What browsers show for a GIF frame with no delay (0 or 1 hundredths of a second).</summary>
    private const int DefaultDelay = 10;

    public static bool IsGif(ReadOnlySpan<byte> bytes) => bytes.StartsWith("GIF87a"u8) || bytes.StartsWith("GIF89a"u8);

    public static VideoFrames Decode(byte[] bytes, JobVideo video, VideoOptions options, ImageInputLimits limits)
    {
        var configuration = new Configuration(new GifConfigurationModule());
        IImageInfo info;
        try
        {
            info = Image.Identify(configuration, new MemoryStream(bytes, writable: false)) ?? throw Corrupt("its header could not be read");
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            throw Corrupt(e.Message);
        }
        var delays = GifFrames.Delays(bytes).Select(d => d > 1 ? d : DefaultDelay).ToArray();
        if (delays.Length == 0) throw Corrupt("it has no frame");
        double seconds = delays.Sum() / 100.0;
        var window = VideoWindow.Of(video, new SourceVideo(info.Width, info.Height, seconds, delays.Length / seconds), options, limits);
        // ImageSharp decodes every frame at once: the frames' pixels are bounded before it does.
        VideoWindow.CheckDecodedPixels(delays.Length, info.Width, info.Height);
        using var image = Load(configuration, bytes);
        if (image.Frames.Count != delays.Length) throw Corrupt($"it has {image.Frames.Count} frames where its blocks say {delays.Length}");
        var pngs = new List<byte[]>();
        for (int k = 0; k < window.Frames; k++)
        {
            double at = window.Start + k / window.Fps;
            using var frame = image.Frames.CloneFrame(FrameAt(delays, at));
            using var png = new MemoryStream();
            frame.SaveAsPng(png, new PngEncoder());
            pngs.Add(png.ToArray());
        }
        return new VideoFrames(pngs, window.Fps, image.Width, image.Height);
    }

    private static Image<Rgba32> Load(Configuration configuration, byte[] bytes)
    {
        try
        {
            return Image.Load<Rgba32>(configuration, new MemoryStream(bytes, writable: false));
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            throw Corrupt(e.Message);
        }
    }

    /// <summary>The frame on screen at <paramref name="seconds"/>: the last one that started at or before it.</summary>
    private static int FrameAt(int[] delays, double seconds)
    {
        double end = 0;
        for (int i = 0; i < delays.Length; i++)
        {
            end += delays[i] / 100.0;
            if (seconds < end - 1e-9) return i;
        }
        return delays.Length - 1;
    }

    private static bool IsDecodeFailure(Exception e) =>
        e is ImageFormatException or NotSupportedException or InvalidOperationException or IndexOutOfRangeException or ArgumentException;

    private static InvalidRequestException Corrupt(string reason) => new(JobErrorCodes.InvalidVideo, $"the GIF could not be decoded: {reason}");
}
