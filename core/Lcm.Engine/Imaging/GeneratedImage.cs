namespace Lcm.Engine.Imaging;

/// <summary>Pixels of one generated image: RGB, 8 bits a channel, row-major.</summary>
public sealed record GeneratedImage(byte[] Rgb, int Width, int Height, long Seed);
