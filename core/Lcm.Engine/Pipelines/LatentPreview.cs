using Lcm.Engine.Imaging;

namespace Lcm.Engine.Pipelines;

/// <summary>
/// A request's first image in the running UNet batch after one step: its denoised estimate, which
/// <see cref="Render"/> turns into a cheap picture (the preview decoder, or the latent-to-RGB
/// approximation) when the consumer wants one, so steps nobody looks at cost only a copy.
/// </summary>
public sealed class LatentPreview
{
    private readonly Func<GeneratedImage> _render;

    internal LatentPreview(int step, int steps, int image, float[] latents, Func<GeneratedImage> render) =>
        (Step, Steps, Image, Latents, _render) = (step, steps, image, latents, render);

    public int Step { get; }
    public int Steps { get; }
    /// <summary>The image's index in its request.</summary>
    public int Image { get; }
    /// <summary>The denoised estimate [4, height / 8, width / 8], as the UNet works on it (not divided by the VAE's scaling factor).</summary>
    public ReadOnlyMemory<float> Latents { get; }

    /// <summary>The picture: at the image's size from a tiny autoencoder, at the latents' (an eighth a side) from the approximation.</summary>
    public GeneratedImage Render() => _render();
}
