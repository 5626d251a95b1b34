using Lcm.Contracts;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Lcm.Engine.Imaging;

/// <summary>Encodes generated pixels as PNG, JPEG or WebP. Quality (1..100) applies to JPEG and lossy WebP.</summary>
public static class ImageEncoder
{
    public static byte[] Encode(GeneratedImage image, OutputFormat format, int quality = RequestLimits.DefaultQuality)
    {
        if (quality is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(quality), quality, "quality must be in 1..100");
        using var picture = Image.LoadPixelData<Rgb24>(image.Rgb, image.Width, image.Height);
        using var stream = new MemoryStream();
        picture.Save(stream, Encoder(format, quality));
        return stream.ToArray();
    }

    /// <summary>A small JPEG of a preview: scaled (up or down) so its longer side is <paramref name="side"/> pixels.</summary>
    public static byte[] EncodePreview(GeneratedImage image, int side = 256, int quality = 70)
    {
        using var picture = Image.LoadPixelData<Rgb24>(image.Rgb, image.Width, image.Height);
        double scale = (double)side / Math.Max(image.Width, image.Height);
        picture.Mutate(p => p.Resize(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale))));
        using var stream = new MemoryStream();
        picture.Save(stream, new JpegEncoder { Quality = quality });
        return stream.ToArray();
    }

    private static IImageEncoder Encoder(OutputFormat format, int quality) => format switch
    {
        OutputFormat.Jpeg => new JpegEncoder { Quality = quality },
        OutputFormat.Webp => new WebpEncoder { Quality = quality, FileFormat = WebpFileFormatType.Lossy },
        // Level 6 is ImageSharp's default; PNG stays lossless whatever the quality.
        _ => new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 },
    };
}
