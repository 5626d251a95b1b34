using Lcm.Contracts;
using Lcm.Engine.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Jobs.Video;

/// <summary>
/// An animated picture read without decoding a pixel: its canvas size, each frame's duration in
/// seconds, and a way to composite its frames in order (each image valid until the next is asked for).
/// </summary>
internal sealed record Animation(int Width, int Height, IReadOnlyList<double> Durations, Func<IEnumerable<Image<Rgba32>>> Composite);

/// <summary>
/// An animated GIF or WebP as a job's frames, through ImageSharp: each output frame is the frame on
/// screen at its time. The limits are checked from the file's blocks before any frame is decoded.
/// </summary>
internal static class AnimatedImage
{
    public static bool Is(ReadOnlySpan<byte> bytes) => GifFrames.IsGif(bytes) || WebpFrames.IsAnimated(bytes);

    public static VideoFrames Decode(byte[] bytes, JobVideo video, VideoOptions options, ImageInputLimits limits)
    {
        var animation = GifFrames.IsGif(bytes) ? GifFrames.Read(bytes) : WebpFrames.Read(bytes);
        double seconds = animation.Durations.Sum();
        var window = VideoWindow.Of(video, new SourceVideo(animation.Width, animation.Height, seconds, animation.Durations.Count / seconds), options, limits);
        // ImageSharp holds a GIF's frames all at once: bounded before it decodes them.
        VideoWindow.CheckDecodedPixels(animation.Durations.Count, animation.Width, animation.Height);
        int[] shown = Enumerable.Range(0, window.Frames).Select(k => FrameAt(animation.Durations, window.Start + k / window.Fps)).ToArray();
        var pngs = new Dictionary<int, byte[]>();
        int index = 0;
        foreach (var frame in animation.Composite())
        {
            if (shown.Contains(index))
            {
                using var png = new MemoryStream();
                frame.SaveAsPng(png, new PngEncoder());
                pngs[index] = png.ToArray();
            }
            if (++index > shown[^1]) break;
        }
        return new VideoFrames(shown.Select(i => pngs[i]).ToArray(), window.Fps, animation.Width, animation.Height);
    }

    /// <summary>The frame on screen at <paramref name="seconds"/>: the last one that started at or before it.</summary>
    private static int FrameAt(IReadOnlyList<double> durations, double seconds)
    {
        double end = 0;
        for (int i = 0; i < durations.Count; i++)
        {
            end += durations[i];
            if (seconds < end - 1e-9) return i;
        }
        return durations.Count - 1;
    }

    public static bool IsDecodeFailure(Exception e) =>
        e is ImageFormatException or NotSupportedException or InvalidOperationException or IndexOutOfRangeException or ArgumentException;
}
