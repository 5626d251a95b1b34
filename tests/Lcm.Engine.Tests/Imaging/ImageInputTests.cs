using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests.Imaging;

/// <summary>
/// Safe decoding of init images: real files made in memory with ImageSharp (and a few crafted or
/// broken by hand), through <see cref="ImageInput"/> as the CLI and engine callers use it.
/// </summary>
public sealed class ImageInputTests
{
    private static readonly ImageInputLimits Limits = new();

    // ---- helpers -------------------------------------------------------------------------------

    private static byte[] Encode<TPixel>(Image<TPixel> image, IImageEncoder encoder) where TPixel : unmanaged, IPixel<TPixel>
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    private static Image<Rgb24> Solid(int width, int height, Rgb24 colour)
    {
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++) rows.GetRowSpan(y).Fill(colour);
        });
        return image;
    }

    /// <summary>Seeded random pixels: compress badly, so a PNG's IDAT is most of the file.</summary>
    private static Image<Rgb24> Noise(int width, int height, int seed)
    {
        var random = new Random(seed);
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++) row[x] = new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
            }
        });
        return image;
    }

    /// <summary>Four flat quadrants: top-left red, top-right blue, bottom-left green, bottom-right white.</summary>
    private static Image<Rgb24> Quadrants(int width, int height)
    {
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                    row[x] = (x < width / 2, y < height / 2) switch
                    {
                        (true, true) => Red,
                        (false, true) => Blue,
                        (true, false) => Green,
                        _ => White,
                    };
            }
        });
        return image;
    }

    private static readonly Rgb24 Red = new(255, 0, 0), Green = new(0, 255, 0), Blue = new(0, 0, 255), White = new(255, 255, 255);

    private static (byte R, byte G, byte B) Pixel(RgbImage image, int x, int y)
    {
        int i = (y * image.Width + x) * 3;
        return (image.Rgb[i], image.Rgb[i + 1], image.Rgb[i + 2]);
    }

    private static void AssertNear(Rgb24 expected, (byte R, byte G, byte B) actual, int tolerance, string where)
    {
        int worst = Math.Max(Math.Abs(expected.R - actual.R), Math.Max(Math.Abs(expected.G - actual.G), Math.Abs(expected.B - actual.B)));
        Assert.True(worst <= tolerance, $"{where}: expected about ({expected.R}, {expected.G}, {expected.B}), got {actual} (tolerance {tolerance})");
    }

    private static InvalidRequestException Refused(byte[] bytes, string code, ImageInputLimits? limits = null, int width = 64, int height = 64)
    {
        // Both entry points refuse the same way: Identify (the CLI's size look-up) and Decode.
        var identify = Assert.Throws<InvalidRequestException>(() => ImageInput.Identify(bytes, limits ?? Limits));
        var decode = Assert.Throws<InvalidRequestException>(() => ImageInput.Decode(bytes, width, height, limits ?? Limits));
        Assert.Equal(code, identify.Code);
        Assert.Equal(code, decode.Code);
        Assert.Equal(identify.Message, decode.Message);
        // Readable: one sentence in words, not a type name or a stack.
        Assert.StartsWith("the image ", identify.Message);
        Assert.DoesNotContain("Exception", identify.Message);
        Assert.DoesNotContain("\n", identify.Message);
        return identify;
    }

    /// <summary>PNG's CRC-32 (ISO 3309, reflected 0xEDB88320) over a chunk's type and data.</summary>
    // ---- formats and sizes ---------------------------------------------------------------------

    public static TheoryData<string, int, int> FormatsAndSizes => new()
    {
        { "png", 64, 48 }, { "png", 200, 120 }, { "png", 100, 60 },
        { "jpeg", 64, 48 }, { "jpeg", 200, 120 }, { "jpeg", 100, 60 },
        { "webp", 64, 48 }, { "webp", 200, 120 }, { "webp", 100, 60 },
    };

    private static IImageEncoder Encoder(string format) => format switch
    {
        "png" => new PngEncoder(),
        "jpeg" => new JpegEncoder { Quality = 95 },
        "webp" => new WebpEncoder { Quality = 95 },
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    [Theory]
    [MemberData(nameof(FormatsAndSizes))]
    public void Png_jpeg_and_webp_decode_to_rgb_at_the_requested_size(string format, int width, int height)
    {
        // A 100x60 source: 64x48 resizes down, 200x120 up, 100x60 keeps the size.
        using var source = Quadrants(100, 60);
        byte[] bytes = Encode(source, Encoder(format));

        Assert.Equal((100, 60), ImageInput.Identify(bytes, Limits));
        var image = ImageInput.Decode(bytes, width, height, Limits);

        Assert.Equal((width, height), (image.Width, image.Height));
        Assert.Equal(width * height * 3, image.Rgb.Length);
        // Each quadrant's centre keeps its colour through the codec and the Lanczos resize (lossy codecs blur edges only).
        int tolerance = format == "png" ? 0 : 24;
        AssertNear(Red, Pixel(image, width / 4, height / 4), tolerance, "top left");
        AssertNear(Blue, Pixel(image, 3 * width / 4, height / 4), tolerance, "top right");
        AssertNear(Green, Pixel(image, width / 4, 3 * height / 4), tolerance, "bottom left");
        AssertNear(White, Pixel(image, 3 * width / 4, 3 * height / 4), tolerance, "bottom right");
    }

    [Fact]
    public void Png_at_its_own_size_decodes_losslessly()
    {
        using var source = Noise(40, 24, seed: 3);
        var expected = new byte[40 * 24 * 3];
        source.CopyPixelDataTo(expected);

        var image = ImageInput.Decode(Encode(source, new PngEncoder()), 40, 24, Limits);

        Assert.Equal(expected, image.Rgb);
    }

    [Fact]
    public void Format_is_detected_from_the_content_whatever_the_bytes_are_called()
    {
        // ImageInput takes bytes only: there is no name to trust. The same pixels as PNG, JPEG and
        // WebP are each recognised; a GIF, whatever a caller calls it, is not.
        using var source = Solid(32, 16, new Rgb24(200, 100, 50));
        foreach (string format in new[] { "png", "jpeg", "webp" })
        {
            var image = ImageInput.Decode(Encode(source, Encoder(format)), 32, 16, Limits);
            AssertNear(new Rgb24(200, 100, 50), Pixel(image, 16, 8), format == "png" ? 0 : 6, format);
        }
        Refused(Encode(source, new GifEncoder()), "unsupported_image");
    }

    [Fact]
    public void Riff_file_that_is_not_webp_or_webp_without_a_body_is_refused()
    {
        byte[] wave = [.. "RIFF"u8, 36, 0, 0, 0, .. "WAVEfmt "u8, 16, 0, 0, 0, 1, 0, 1, 0];
        Assert.Contains("not a PNG, JPEG or WebP", Refused(wave, "unsupported_image").Message);
        // The WebP signature alone passes the content check, so ImageSharp's decoder must refuse it as corrupt.
        byte[] webpHeaderOnly = [.. "RIFF"u8, 4, 0, 0, 0, .. "WEBP"u8];
        Refused(webpHeaderOnly, "image_corrupt");
    }

    // ---- refused inputs ------------------------------------------------------------------------

    [Fact]
    public void Gif_is_unsupported()
    {
        using var source = Solid(16, 16, Red);
        var error = Refused(Encode(source, new GifEncoder()), "unsupported_image");
        Assert.Equal("the image is not a PNG, JPEG or WebP file (detected from its content)", error.Message);
    }

    [Fact]
    public void Bmp_is_unsupported()
    {
        using var source = Solid(16, 16, Red);
        byte[] bmp = Encode(source, new BmpEncoder());
        Assert.Equal("BM", Encoding.ASCII.GetString(bmp, 0, 2));
        Refused(bmp, "unsupported_image");
    }

    [Fact]
    public void Text_file_is_unsupported()
    {
        Refused(Encoding.UTF8.GetBytes("notes: a photo of a cat, 512x512\n"), "unsupported_image");
    }

    [Fact]
    public void Zero_byte_file_is_unsupported()
    {
        var error = Refused([], "unsupported_image");
        Assert.Equal("the image is empty (0 bytes)", error.Message);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    public void Truncated_png_is_corrupt(double kept)
    {
        using var source = Noise(64, 64, seed: 1);
        byte[] png = Encode(source, new PngEncoder());
        byte[] truncated = png[..(int)(png.Length * kept)];

        var error = Refused(truncated, "image_corrupt");
        Assert.StartsWith("the image could not be decoded: ", error.Message);
    }

    [Fact]
    public void Png_cut_just_before_its_end_chunk_is_corrupt()
    {
        using var source = Noise(64, 64, seed: 2);
        byte[] png = Encode(source, new PngEncoder());
        Assert.Equal("IEND", Encoding.ASCII.GetString(png, png.Length - 8, 4));

        // All pixel data present, only IEND (12 bytes) missing: still not a whole PNG.
        Refused(png[..^12], "image_corrupt");
        // The whole file, for contrast, decodes.
        Assert.Equal(64 * 64 * 3, ImageInput.Decode(png, 64, 64, Limits).Rgb.Length);
    }

    [Fact]
    public void Truncated_jpeg_is_decoded_partially_by_imagesharp()
    {
        // Documented behaviour, not a wish: ImageSharp 2.1's JPEG decoder (like libjpeg) tolerates
        // a stream that ends midway through the scan and fills the rest of the image, so a JPEG cut
        // in half after its headers still decodes, at its full size. A JPEG cut inside its headers
        // (before the frame header gives the size) is corrupt.
        using var source = Noise(64, 64, seed: 4);
        byte[] jpeg = Encode(source, new JpegEncoder { Quality = 90 });
        byte[] half = jpeg[..(jpeg.Length / 2)];

        Assert.Equal((64, 64), ImageInput.Identify(half, Limits));
        var image = ImageInput.Decode(half, 64, 64, Limits);
        Assert.Equal(64 * 64 * 3, image.Rgb.Length);

        Refused(jpeg[..20], "image_corrupt");
    }

    [Fact]
    public void Random_bytes_after_a_png_signature_are_corrupt()
    {
        var random = new Random(7);
        for (int attempt = 0; attempt < 20; attempt++)
        {
            var bytes = new byte[8 + 200 + attempt * 37];
            random.NextBytes(bytes);
            new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(bytes, 0);
            Refused(bytes, "image_corrupt");
        }
    }

    [Fact]
    public void Png_whole_in_structure_with_garbage_pixel_data_is_corrupt()
    {
        // Every chunk in place with a right CRC, but the IDAT's zlib stream replaced with random
        // bytes: the chunk walk passes, so this is ImageSharp's decoder refusing it.
        using var source = Noise(32, 32, seed: 6);
        byte[] png = Encode(source, new PngEncoder());
        int idat = Enumerable.Range(8, png.Length - 12).First(i => Encoding.ASCII.GetString(png, i, 4) == "IDAT");
        int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat - 4));
        new Random(8).NextBytes(png.AsSpan(idat + 4, length));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(idat + 4 + length), TestPngs.Crc32(png.AsSpan(idat, 4 + length)));

        Assert.Equal((32, 32), ImageInput.Identify(png, Limits)); // the header is fine
        var error = Assert.Throws<InvalidRequestException>(() => ImageInput.Decode(png, 32, 32, Limits));
        Assert.Equal("image_corrupt", error.Code);
        Assert.StartsWith("the image could not be decoded: ", error.Message);
    }

    [Fact]
    public void Png_declaring_a_huge_image_is_refused_from_its_header_without_allocating_it()
    {
        // 100000 x 100000 RGB would need 30 GB decoded; the file is under 100 bytes.
        byte[] bomb = TestPngs.PngDeclaring(100_000, 100_000);
        Assert.True(bomb.Length < 200, $"{bomb.Length} bytes");

        GC.Collect();
        long managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        long peakBefore = Process.GetCurrentProcess().PeakWorkingSet64;

        var error = Refused(bomb, "image_too_large", width: 128, height: 128);
        Assert.Equal("the image is 100000x100000 pixels; at most 4096x4096 are accepted", error.Message);

        long managedGrowth = GC.GetTotalMemory(forceFullCollection: true) - managedBefore;
        long peakGrowth = Process.GetCurrentProcess().PeakWorkingSet64 - peakBefore;
        // Generous bounds (other tests run in parallel in this process): far below the gigabytes a decode would take.
        Assert.True(managedGrowth < 256L << 20, $"managed memory grew by {managedGrowth >> 20} MiB");
        Assert.True(peakGrowth < 1L << 30, $"peak working set grew by {peakGrowth >> 20} MiB");
    }

    [Fact]
    public void Jpeg_declaring_a_huge_image_is_refused_from_its_header()
    {
        using var source = Solid(16, 16, Red);
        byte[] jpeg = Encode(source, new JpegEncoder());
        // The baseline frame header: FF C0, length (2), precision (1), height (2), width (2).
        int sof = Enumerable.Range(0, jpeg.Length - 1).First(i => jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), 60000);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), 60000);

        var error = Refused(jpeg, "image_too_large");
        Assert.Contains("60000x60000", error.Message);
    }

    [Fact]
    public void File_over_max_bytes_is_too_large()
    {
        using var source = Noise(32, 32, seed: 5);
        byte[] png = Encode(source, new PngEncoder());
        var limits = new ImageInputLimits { MaxBytes = png.Length - 1 };

        var error = Refused(png, "image_too_large", limits);
        Assert.Equal($"the image is {png.Length} bytes; at most {png.Length - 1} are accepted", error.Message);
        // At exactly the limit it is accepted.
        Assert.Equal((32, 32), ImageInput.Identify(png, limits with { MaxBytes = png.Length }));
    }

    [Theory]
    [InlineData(100, 50)]
    [InlineData(50, 100)]
    public void Dimensions_over_max_dimension_are_too_large(int width, int height)
    {
        using var source = Solid(width, height, Red);
        byte[] png = Encode(source, new PngEncoder());
        var limits = new ImageInputLimits { MaxDimension = 64 };

        var error = Refused(png, "image_too_large", limits);
        Assert.Equal($"the image is {width}x{height} pixels; at most 64x64 are accepted", error.Message);
        Assert.Equal((width, height), ImageInput.Identify(png, limits with { MaxDimension = 100 }));
    }

    // ---- orientation, transparency, pixel formats ----------------------------------------------

    private static byte[] WithOrientation(Image<Rgb24> image, ushort orientation, IImageEncoder encoder)
    {
        image.Metadata.ExifProfile = new ExifProfile();
        image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, orientation);
        return Encode(image, encoder);
    }

    [Theory]
    [InlineData("jpeg")]
    [InlineData("png")]
    public void Exif_orientation_6_rotates_a_40x20_image_to_20x40(string format)
    {
        // Stored 40x20 with orientation 6: shown rotated 90 degrees clockwise, 20 wide and 40 high.
        using var source = Quadrants(40, 20);
        byte[] bytes = WithOrientation(source, 6, Encoder(format));
        using (var stored = Image.Load(bytes))
            Assert.Equal((40, 20), (stored.Width, stored.Height)); // the file keeps the stored size

        // Identify reports the size the picture is shown at (ImageSharp's own Identify gives the
        // stored 40x20; ImageInput swaps it for orientations 5 to 8, so default sizes follow the picture).
        Assert.Equal((20, 40), ImageInput.Identify(bytes, Limits));

        var image = ImageInput.Decode(bytes, 20, 40, Limits);
        // Clockwise: the stored left column becomes the top row, the stored top row the right column.
        int tolerance = format == "png" ? 0 : 40;
        AssertNear(Green, Pixel(image, 5, 10), tolerance, "top left");
        AssertNear(Red, Pixel(image, 15, 10), tolerance, "top right");
        AssertNear(White, Pixel(image, 5, 30), tolerance, "bottom left");
        AssertNear(Blue, Pixel(image, 15, 30), tolerance, "bottom right");
    }

    [Fact]
    public void Default_size_of_a_rotated_image_follows_the_shown_orientation()
    {
        // 160x96 stored, orientation 6: shown 96x160, so a request without a size is 96 wide, 160 high.
        using var source = Quadrants(160, 96);
        byte[] jpeg = WithOrientation(source, 6, new JpegEncoder());
        var (width, height) = ImageInput.Identify(jpeg, Limits);

        Assert.Equal((96, 160), ImageInput.DefaultSize(width, height, RequestLimits.MaxImageSize));
        // Orientation 3 (180 degrees) keeps the size.
        using var upsideDown = Quadrants(160, 96);
        Assert.Equal((160, 96), ImageInput.Identify(WithOrientation(upsideDown, 3, new JpegEncoder()), Limits));
    }

    [Fact]
    public void Fully_transparent_red_becomes_white_and_half_transparent_black_mid_grey()
    {
        using var source = new Image<Rgba32>(8, 8);
        source.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                    row[x] = x < 4 ? new Rgba32(255, 0, 0, 0) : new Rgba32(0, 0, 0, 128);
            }
        });
        byte[] png = Encode(source, new PngEncoder { ColorType = PngColorType.RgbWithAlpha, TransparentColorMode = PngTransparentColorMode.Preserve });

        var image = ImageInput.Decode(png, 8, 8, Limits);

        for (int y = 0; y < 8; y++)
        {
            Assert.Equal(((byte)255, (byte)255, (byte)255), Pixel(image, 1, y));
            var (r, g, b) = Pixel(image, 6, y);
            Assert.True(r == g && g == b && Math.Abs(r - 128) <= 1, $"half-transparent black gave ({r}, {g}, {b})");
        }
    }

    [Fact]
    public void Grey_and_16_bit_pngs_convert_to_rgb()
    {
        using var grey = new Image<L8>(4, 4, new L8(100));
        byte[] greyPng = Encode(grey, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
        using var grey16 = new Image<L16>(4, 4, new L16(0xC8C8)); // 200 in 8 bits
        byte[] grey16Png = Encode(grey16, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
        using var rgb48 = new Image<Rgb48>(4, 4, new Rgb48(65535, 0, 0x8080));
        byte[] rgb48Png = Encode(rgb48, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });

        // IHDR bit depth (byte 24) and colour type (byte 25): the files are what they claim to be.
        Assert.Equal((8, 0), ((int)greyPng[24], (int)greyPng[25]));
        Assert.Equal((16, 0), ((int)grey16Png[24], (int)grey16Png[25]));
        Assert.Equal((16, 2), ((int)rgb48Png[24], (int)rgb48Png[25]));

        Assert.All(Enumerable.Range(0, 16), i => Assert.Equal(((byte)100, (byte)100, (byte)100), Pixel(ImageInput.Decode(greyPng, 4, 4, Limits), i % 4, i / 4)));
        Assert.Equal(((byte)200, (byte)200, (byte)200), Pixel(ImageInput.Decode(grey16Png, 4, 4, Limits), 2, 1));
        Assert.Equal(((byte)255, (byte)0, (byte)128), Pixel(ImageInput.Decode(rgb48Png, 4, 4, Limits), 3, 3));
    }

    // ---- default size and limits ---------------------------------------------------------------

    [Theory]
    [InlineData(640, 480, 1024, 640, 480)]
    [InlineData(643, 487, 1024, 640, 480)]   // rounded down to multiples of 8
    [InlineData(20, 40, 1024, 64, 64)]       // raised to the 64-pixel minimum
    [InlineData(71, 300, 1024, 64, 296)]
    [InlineData(4000, 3000, 1024, 1024, 1024)] // clamped to the maximum
    [InlineData(4000, 700, 1020, 1016, 696)] // a maximum that is not a multiple of 8 rounds down too
    public void Default_size_rounds_down_to_multiples_of_8_within_64_and_the_maximum(int width, int height, int max, int expectedWidth, int expectedHeight)
    {
        Assert.Equal((expectedWidth, expectedHeight), ImageInput.DefaultSize(width, height, max));
    }

    [Fact]
    public void Limits_from_environment_read_max_input_bytes_and_pixels()
    {
        ImageInputLimits Read(params (string Name, string Value)[] values)
        {
            var map = values.ToDictionary(v => v.Name, v => v.Value);
            return EngineSettings.ReadInputLimits(name => map.GetValueOrDefault(name));
        }

        Assert.Equal(new ImageInputLimits(), Read());
        Assert.Equal((20L * 1024 * 1024, 4096), (Read().MaxBytes, Read().MaxDimension));
        Assert.Equal((5000L, 2048), (Read(("LCM_MAX_INPUT_BYTES", "5000"), ("LCM_MAX_INPUT_PIXELS", "2048")) is var l ? (l.MaxBytes, l.MaxDimension) : default));
        Assert.Equal(new ImageInputLimits(), Read(("LCM_MAX_INPUT_BYTES", " "), ("LCM_MAX_INPUT_PIXELS", "")));

        foreach (var (name, value) in new[]
        {
            ("LCM_MAX_INPUT_BYTES", "-1"), ("LCM_MAX_INPUT_BYTES", "1023"), ("LCM_MAX_INPUT_BYTES", "20MB"), ("LCM_MAX_INPUT_BYTES", "99999999999"),
            ("LCM_MAX_INPUT_PIXELS", "63"), ("LCM_MAX_INPUT_PIXELS", "16385"), ("LCM_MAX_INPUT_PIXELS", "4096.5"), ("LCM_MAX_INPUT_PIXELS", "big"),
        })
        {
            var error = Assert.Throws<ArgumentException>(() => Read((name, value)));
            Assert.Contains(name, error.Message);
            Assert.Contains($"'{value}'", error.Message);
        }
    }
}
