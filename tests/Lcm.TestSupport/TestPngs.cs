using System.Buffers.Binary;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests;

/// <summary>Hand-made PNG files for the image-input tests of the engine and of the service.</summary>
public static class TestPngs
{
    /// <summary>The CRC-32 of PNG chunks (ISO 3309), written here so the tests do not trust the decoder's.</summary>
    public static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A PNG of a colour gradient, so resizing and cropping show in the pixels.</summary>
    public static byte[] Gradient(int width, int height)
    {
        using var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = new Rgb24((byte)(x * 3), (byte)(y * 2), 90);
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    /// <summary>A real small PNG whose IHDR is rewritten to declare another size, with its CRC recomputed.</summary>
    public static byte[] PngDeclaring(int width, int height)
    {
        using var image = new Image<Rgb24>(8, 8, new Rgb24(255, 0, 0));
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        byte[] png = stream.ToArray();
        // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC (4).
        Assert.Equal("IHDR", Encoding.ASCII.GetString(png, 12, 4));
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32(png.AsSpan(12, 17)));
        return png;
    }
}
