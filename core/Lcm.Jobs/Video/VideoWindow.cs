using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;

namespace Lcm.Jobs.Video;

/// <summary>
/// The part of a source a job processes and at what rate: every limit on a video is checked here,
/// from what its header says, before a frame is decoded.
/// </summary>
internal sealed record VideoWindow(double Start, double Seconds, double Fps, int Frames)
{
    public static VideoWindow Of(JobVideo video, SourceVideo source, VideoOptions options, ImageInputLimits limits)
    {
        if (source.Width > limits.MaxDimension || source.Height > limits.MaxDimension)
            throw new InvalidRequestException(JobErrorCodes.VideoFrameTooLarge,
                $"the video's frames are {source.Width}x{source.Height}; at most {limits.MaxDimension}x{limits.MaxDimension} are accepted (LCM_MAX_INPUT_PIXELS)");
        int maxFrames = MaxFrames(video, options);
        double start = video.Start ?? 0;
        if (start >= source.Seconds)
            throw new InvalidRequestException(JobErrorCodes.InvalidVideo, $"video.start is {start} s, but the video lasts {source.Seconds:0.###} s");
        double seconds = Math.Min(video.Duration ?? double.PositiveInfinity, source.Seconds - start);
        if (seconds > options.MaxSeconds)
            throw new InvalidRequestException(JobErrorCodes.VideoTooLong,
                $"the video runs {seconds:0.###} s from video.start; at most {options.MaxSeconds} s are accepted (LCM_MAX_VIDEO_SECONDS): set video.duration");
        double fps = video.Fps ?? Math.Min(source.Fps, RequestLimits.MaxVideoFps);
        // A clip of exactly 2 s at 8 fps is 16 frames, whatever the float rounding of its duration says.
        int frames = Math.Max(1, (int)Math.Ceiling(seconds * fps - 1e-6));
        if (frames > maxFrames) throw TooManyFrames(frames, maxFrames);
        CheckDecodedPixels(frames, source.Width, source.Height);
        return new VideoWindow(start, seconds, fps, frames);
    }

    /// <summary>
    /// The most pixels a job's frames may have together (a quarter of a billion: 120 frames of 1920x1080),
    /// since a job holds its decoded frames while it splits them.
    /// </summary>
    public const long MaxDecodedPixels = 256L * 1024 * 1024;

    public static void CheckDecodedPixels(int frames, int width, int height)
    {
        if ((long)frames * width * height > MaxDecodedPixels)
            throw new InvalidRequestException(JobErrorCodes.VideoTooManyFrames,
                $"the video's {frames} frames of {width}x{height} are {(long)frames * width * height / 1_000_000} million pixels; at most {MaxDecodedPixels / 1_000_000} million are accepted: set video.duration or a lower video.fps");
    }

    /// <summary>video.maxFrames, refused above the worker's LCM_MAX_VIDEO_FRAMES; by default 120 or that limit, whichever is less.</summary>
    public static int MaxFrames(JobVideo video, VideoOptions options)
    {
        if (video.MaxFrames is not int asked) return Math.Min(RequestLimits.DefaultVideoMaxFrames, options.MaxFrames);
        return asked <= options.MaxFrames ? asked
            : throw new InvalidRequestException(JobErrorCodes.VideoTooManyFrames, $"video.maxFrames is {asked}; this worker takes at most {options.MaxFrames} (LCM_MAX_VIDEO_FRAMES)");
    }

    public static InvalidRequestException TooManyFrames(int frames, int maxFrames) => new(JobErrorCodes.VideoTooManyFrames,
        $"the video has {frames} frames at the job's rate; at most {maxFrames} are accepted (video.maxFrames): set video.duration, a lower video.fps or a higher video.maxFrames");
}

/// <summary>What a source's header says: frame size, length and frame rate.</summary>
internal sealed record SourceVideo(int Width, int Height, double Seconds, double Fps);

/// <summary>A job's frames, as PNG files, at <see cref="Fps"/>, each <see cref="Width"/>x<see cref="Height"/> (the source's size).</summary>
internal sealed record VideoFrames(IReadOnlyList<byte[]> Pngs, double Fps, int Width, int Height);
