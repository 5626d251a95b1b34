using System.Buffers.Binary;
using Lcm.Contracts;
using Lcm.Engine;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Lcm.Jobs.Video;

/// <summary>
/// An animated WebP, which ImageSharp 2.1 does not animate: its ANMF chunks are read for the canvas,
/// each frame's rectangle, duration, blending and disposal; each frame's bitstream is wrapped as a
/// still WebP for ImageSharp to decode, and composited on the canvas as the WebP container spec says.
/// </summary>
internal static class WebpFrames
{
    private sealed record Frame(int X, int Y, int Width, int Height, int DurationMs, bool Blend, bool Dispose, int Offset, int Length);

    /// <summary>A WebP with a VP8X header whose animation flag is set.</summary>
    public static bool IsAnimated(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 30 && bytes.StartsWith("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8) && bytes[12..16].SequenceEqual("VP8X"u8) && (bytes[20] & 0x02) != 0;

    public static Animation Read(byte[] webp)
    {
        int width = 1 + U24(webp, 24), height = 1 + U24(webp, 27);
        var frames = new List<Frame>();
        foreach (var (fourcc, offset, length) in Chunks(webp, 12, webp.Length))
        {
            if (fourcc != "ANMF") continue;
            if (length < 16) throw Corrupt("a frame's header is truncated");
            var frame = new Frame(2 * U24(webp, offset), 2 * U24(webp, offset + 3), 1 + U24(webp, offset + 6), 1 + U24(webp, offset + 9),
                U24(webp, offset + 12), (webp[offset + 15] & 0x02) == 0, (webp[offset + 15] & 0x01) != 0, offset + 16, length - 16);
            if (frame.X + frame.Width > width || frame.Y + frame.Height > height) throw Corrupt("a frame lies outside the canvas");
            frames.Add(frame);
        }
        if (frames.Count == 0) throw Corrupt("it has no frame");
        // A frame without a duration shows as browsers show it: 100 ms.
        return new Animation(width, height, frames.Select(f => (f.DurationMs > 0 ? f.DurationMs : 100) / 1000.0).ToArray(), () => Composite(webp, width, height, frames));
    }

    private static IEnumerable<Image<Rgba32>> Composite(byte[] webp, int width, int height, List<Frame> frames)
    {
        using var canvas = new Image<Rgba32>(width, height);
        foreach (var frame in frames)
        {
            using (var image = Decode(webp, frame))
                canvas.Mutate(c => c.DrawImage(image, new Point(frame.X, frame.Y), PixelColorBlendingMode.Normal,
                    frame.Blend ? PixelAlphaCompositionMode.SrcOver : PixelAlphaCompositionMode.Src, 1f));
            yield return canvas;
            if (frame.Dispose)
            {
                using var clear = new Image<Rgba32>(frame.Width, frame.Height);
                canvas.Mutate(c => c.DrawImage(clear, new Point(frame.X, frame.Y), PixelColorBlendingMode.Normal, PixelAlphaCompositionMode.Src, 1f));
            }
        }
    }

    /// <summary>A frame's bitstream (VP8 or VP8L, with its ALPH chunk if any) as a still WebP.</summary>
    private static Image<Rgba32> Decode(byte[] webp, Frame frame)
    {
        var data = webp.AsSpan(frame.Offset, frame.Length);
        bool alpha = data.StartsWith("ALPH"u8);
        using var still = new MemoryStream();
        still.Write("RIFF"u8);
        still.Write(LittleEndian(4 + (alpha ? 18 : 0) + data.Length));
        still.Write("WEBP"u8);
        if (alpha)
        {
            // A lossy frame with alpha needs the extended header that announces it.
            still.Write("VP8X"u8);
            still.Write(LittleEndian(10));
            still.Write([0x10, 0, 0, 0, .. U24Bytes(frame.Width - 1), .. U24Bytes(frame.Height - 1)]);
        }
        still.Write(data);
        still.Position = 0;
        try
        {
            var image = Image.Load<Rgba32>(new Configuration(new WebpConfigurationModule()), still);
            if (image.Width == frame.Width && image.Height == frame.Height) return image;
            image.Dispose();
            throw Corrupt("a frame's bitstream is not the size its header gives");
        }
        catch (Exception e) when (AnimatedImage.IsDecodeFailure(e))
        {
            throw Corrupt(e.Message);
        }
    }

    /// <summary>The RIFF chunks between <paramref name="start"/> and <paramref name="end"/>: four letters, a length, the data, a pad byte to even.</summary>
    private static IEnumerable<(string FourCc, int Offset, int Length)> Chunks(byte[] webp, int start, int end)
    {
        for (int at = start; at < end;)
        {
            if (at + 8 > end) throw Corrupt("a chunk is truncated");
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(webp.AsSpan(at + 4));
            if (length > end - at - 8) throw Corrupt("a chunk is truncated");
            yield return (System.Text.Encoding.ASCII.GetString(webp, at, 4), at + 8, (int)length);
            at += 8 + (int)length + (int)(length & 1);
        }
    }

    private static int U24(byte[] bytes, int at) => bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16;

    private static byte[] U24Bytes(int value) => [(byte)value, (byte)(value >> 8), (byte)(value >> 16)];

    private static byte[] LittleEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static InvalidRequestException Corrupt(string reason) => new(JobErrorCodes.InvalidVideo, $"the animated WebP could not be decoded: {reason}");
}
