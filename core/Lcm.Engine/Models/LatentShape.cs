namespace Lcm.Engine.Models;

/// <summary>The shape of a batch of latents, [batch, channels, height, width]: the VAE works at one eighth of the pixels a side.</summary>
public readonly record struct LatentShape(int Batch, int Channels, int Height, int Width)
{
    public static LatentShape FromImage(int width, int height, int batch = 1) => new(batch, Unet.LatentChannels, height / 8, width / 8);

    public int Length => Batch * ImageLength;

    /// <summary>The values of one image's latents.</summary>
    public int ImageLength => Channels * Height * Width;

    public int PixelWidth => Width * 8;
    public int PixelHeight => Height * 8;

    public long[] Dimensions => [Batch, Channels, Height, Width];
}
