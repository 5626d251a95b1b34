using Lcm.Contracts;
using Lcm.Engine;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Jobs.Video;

/// <summary>
/// An animated GIF: its blocks are walked for the canvas size and the frames' delays without decoding
/// a pixel; ImageSharp then decodes and composites the frames.
/// </summary>
internal static class GifFrames
{
    /// <summary>What browsers show for a GIF frame with no delay (0 or 1 hundredths of a second).</summary>
    private const int DefaultDelay = 10;

    public static bool IsGif(ReadOnlySpan<byte> bytes) => bytes.StartsWith("GIF87a"u8) || bytes.StartsWith("GIF89a"u8);

    public static Animation Read(byte[] gif)
    {
        var delays = Delays(gif);
        if (delays.Length == 0) throw Corrupt("it has no frame");
        int width = gif[6] | gif[7] << 8, height = gif[8] | gif[9] << 8;
        return new Animation(width, height, delays.Select(d => (d > 1 ? d : DefaultDelay) / 100.0).ToArray(), () => Composite(gif, delays.Length));
    }

    private static IEnumerable<Image<Rgba32>> Composite(byte[] gif, int frames)
    {
        Image<Rgba32> image;
        try
        {
            image = Image.Load<Rgba32>(new Configuration(new GifConfigurationModule()), new MemoryStream(gif, writable: false));
        }
        catch (Exception e) when (AnimatedImage.IsDecodeFailure(e))
        {
            throw Corrupt(e.Message);
        }
        using (image)
        {
            if (image.Frames.Count != frames) throw Corrupt($"it has {image.Frames.Count} frames where its blocks say {frames}");
            for (int i = 0; i < frames; i++)
            {
                using var frame = image.Frames.CloneFrame(i);
                yield return frame;
            }
        }
    }

    /// <summary>Each image's delay, in hundredths of a second, from the graphic control extension before it.</summary>
    private static int[] Delays(ReadOnlySpan<byte> gif)
    {
        int at = 13;
        if (gif.Length < at) throw Corrupt("it is truncated");
        byte screen = gif[10];
        if ((screen & 0x80) != 0) at += 3 << ((screen & 7) + 1);
        var delays = new List<int>();
        int delay = 0;
        while (true)
        {
            if (at >= gif.Length) throw Corrupt("it is truncated");
            switch (gif[at++])
            {
                case 0x3B:
                    return [.. delays];
                case 0x21 when at + 5 < gif.Length && gif[at] == 0xF9 && gif[at + 1] == 4:
                    delay = gif[at + 3] | gif[at + 4] << 8;
                    at = SkipSubBlocks(gif, at + 1);
                    break;
                case 0x21:
                    at = SkipSubBlocks(gif, at + 1);
                    break;
                case 0x2C:
                    if (at + 9 > gif.Length) throw Corrupt("it is truncated");
                    byte image = gif[at + 8];
                    at += 9 + ((image & 0x80) != 0 ? 3 << ((image & 7) + 1) : 0) + 1;
                    at = SkipSubBlocks(gif, at);
                    delays.Add(delay);
                    delay = 0;
                    break;
                default:
                    throw Corrupt($"it has an unknown block at byte {at - 1}");
            }
        }
    }

    /// <summary>Past a run of sub-blocks (a length byte, that many bytes) and its zero terminator.</summary>
    private static int SkipSubBlocks(ReadOnlySpan<byte> gif, int at)
    {
        while (at < gif.Length && gif[at] != 0) at += gif[at] + 1;
        return at < gif.Length ? at + 1 : throw Corrupt("it is truncated");
    }

    private static InvalidRequestException Corrupt(string reason) => new(JobErrorCodes.InvalidVideo, $"the GIF could not be decoded: {reason}");
}
