using System.Buffers.Binary;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Lcm.Engine.Imaging;

/// <summary>An RGB picture, 8 bits a channel, row-major: what the engine takes as an init image.</summary>
public sealed record RgbImage(byte[] Rgb, int Width, int Height);

/// <summary>Limits on images that come from outside (LCM_MAX_INPUT_BYTES, LCM_MAX_INPUT_PIXELS).</summary>
public sealed record ImageInputLimits
{
    public long MaxBytes { get; init; } = 20L * 1024 * 1024;
    /// <summary>Largest accepted width and height.</summary>
    public int MaxDimension { get; init; } = 4096;
}

/// <summary>
/// Safe decoding of input images, which come from outside: PNG, JPEG and WebP only, detected from
/// the content; size and dimensions checked from the header before any pixel is decoded, so a small
/// file declaring a huge image is refused without allocating it. Errors carry the codes
/// <c>unsupported_image</c>, <c>image_too_large</c> and <c>image_corrupt</c>.
/// </summary>
public static class ImageInput
{
    private static readonly Configuration Formats = new(new PngConfigurationModule(), new JpegConfigurationModule(), new WebpConfigurationModule());

    /// <summary>The image's size from its header, as shown (EXIF orientation applied), after the format and limit checks.</summary>
    public static (int Width, int Height) Identify(ReadOnlySpan<byte> bytes, ImageInputLimits limits)
    {
        CheckFormatAndSize(bytes, limits);
        IImageInfo? info;
        try
        {
            info = Image.Identify(Formats, new MemoryStream(bytes.ToArray(), writable: false));
        }
        catch (Exception e) when (e is ImageFormatException or NotSupportedException or InvalidOperationException or IndexOutOfRangeException or ArgumentException)
        {
            throw Corrupt(e.Message);
        }
        if (info is null || info.Width <= 0 || info.Height <= 0) throw Corrupt("its header could not be read");
        if (info.Width > limits.MaxDimension || info.Height > limits.MaxDimension)
            throw new InvalidRequestException(JobErrorCodes.ImageTooLarge, $"the image is {info.Width}x{info.Height} pixels; at most {limits.MaxDimension}x{limits.MaxDimension} are accepted");
        // ImageSharp reports the stored size, but Decode turns the picture upright (AutoOrient): for
        // orientations 5 to 8 (a quarter turn) the size callers plan with, such as the CLI's default, swaps.
        if (info.Metadata.ExifProfile?.GetValue(ExifTag.Orientation)?.Value is >= 5 and <= 8) return (info.Height, info.Width);
        return (info.Width, info.Height);
    }

    /// <summary>
    /// Decodes to RGB at the given size: EXIF orientation applied, grey and 16-bit images converted,
    /// transparency composited on white, then resized with a Lanczos filter.
    /// </summary>
    public static RgbImage Decode(ReadOnlySpan<byte> bytes, int width, int height, ImageInputLimits limits)
    {
        Identify(bytes, limits);
        Image<Rgba32> image;
        try
        {
            image = Image.Load<Rgba32>(Formats, new MemoryStream(bytes.ToArray(), writable: false));
        }
        catch (Exception e) when (e is ImageFormatException or NotSupportedException or InvalidOperationException or IndexOutOfRangeException or ArgumentException)
        {
            throw Corrupt(e.Message);
        }
        using (image)
        {
            image.Mutate(x => x.AutoOrient());
            if (image.Width != width || image.Height != height) image.Mutate(x => x.Resize(width, height, KnownResamplers.Lanczos3));
            var rgb = new byte[width * height * 3];
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    var row = rows.GetRowSpan(y);
                    for (int x = 0; x < row.Length; x++)
                    {
                        var p = row[x];
                        int i = (y * width + x) * 3;
                        rgb[i] = OnWhite(p.R, p.A);
                        rgb[i + 1] = OnWhite(p.G, p.A);
                        rgb[i + 2] = OnWhite(p.B, p.A);
                    }
                }
            });
            return new RgbImage(rgb, width, height);
        }
    }

    /// <summary>The size to generate when the request names none: the image's own, rounded down to multiples of 8 within the limits.</summary>
    public static (int Width, int Height) DefaultSize((int Width, int Height) size, int maxImageSize) => DefaultSize(size.Width, size.Height, maxImageSize);

    public static (int Width, int Height) DefaultSize(int width, int height, int maxImageSize)
    {
        int Fit(int v) => Math.Clamp(v - v % 8, RequestLimits.MinImageSize, maxImageSize - maxImageSize % 8);
        return (Fit(width), Fit(height));
    }

    /// <summary>Refuses more than <see cref="ImageInputLimits.MaxBytes"/>; callers reading a file check its length before reading it.</summary>
    public static void CheckLength(long length, ImageInputLimits limits)
    {
        if (length > limits.MaxBytes)
            throw new InvalidRequestException(JobErrorCodes.ImageTooLarge, $"the image is {length} bytes; at most {limits.MaxBytes} are accepted");
    }

    private static byte OnWhite(byte channel, byte alpha) => (byte)((channel * alpha + 255 * (255 - alpha) + 127) / 255);

    private static void CheckFormatAndSize(ReadOnlySpan<byte> bytes, ImageInputLimits limits)
    {
        if (bytes.Length == 0) throw new InvalidRequestException(JobErrorCodes.UnsupportedImage, "the image is empty (0 bytes)");
        CheckLength(bytes.Length, limits);
        bool png = bytes.StartsWith(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A });
        bool jpeg = bytes.StartsWith(new byte[] { 0xFF, 0xD8, 0xFF });
        bool webp = bytes.Length >= 12 && bytes[..4].SequenceEqual("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8);
        if (!png && !jpeg && !webp)
            throw new InvalidRequestException(JobErrorCodes.UnsupportedImage, "the image is not a PNG, JPEG or WebP file (detected from its content)");
        // ImageSharp's Identify skips the pixel data and its decoder accepts a PNG cut after its last
        // IDAT chunk, so a truncated PNG would pass as whole: its chunks must lead to IEND.
        if (png && !PngReachesEnd(bytes)) throw Corrupt("the PNG file is truncated (its chunks end before IEND)");
    }

    /// <summary>Walks the chunk lengths (not the CRCs) from the signature; true when an IEND chunk is reached inside the file.</summary>
    private static bool PngReachesEnd(ReadOnlySpan<byte> bytes)
    {
        long offset = 8;
        while (offset + 12 <= bytes.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(bytes[(int)offset..]);
            if (bytes.Slice((int)offset + 4, 4).SequenceEqual("IEND"u8)) return true;
            offset += 12L + length; // length, type, data, CRC
        }
        return false;
    }

    private static InvalidRequestException Corrupt(string detail) =>
        new(JobErrorCodes.ImageCorrupt, $"the image could not be decoded: {detail}");
}
