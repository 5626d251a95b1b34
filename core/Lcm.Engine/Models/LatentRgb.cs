namespace Lcm.Engine.Models;

/// <summary>
/// The linear latent-to-RGB approximation that ComfyUI's previews use (comfy/latent_formats.py): each
/// latent pixel's four channels, as the UNet works on them, times a 4x3 matrix plus a bias give its
/// RGB in about [-1, 1]. No graph runs, so it costs next to nothing; one pixel per latent pixel.
/// </summary>
internal static class LatentRgb
{
    // Rows: latent channels 0..3; columns: R, G, B.
    private static readonly float[,] StableDiffusionFactors =
    {
        { 0.3512f, 0.2297f, 0.3227f },
        { 0.3250f, 0.4974f, 0.2350f },
        { -0.2829f, 0.1762f, 0.2721f },
        { -0.2120f, -0.2616f, -0.7177f },
    };
    private static readonly float[] StableDiffusionBias = [0f, 0f, 0f];

    private static readonly float[,] StableDiffusionXLFactors =
    {
        { 0.3651f, 0.4232f, 0.4341f },
        { -0.2533f, -0.0042f, 0.1068f },
        { 0.1076f, 0.1111f, -0.0362f },
        { -0.3165f, -0.2492f, -0.2188f },
    };
    private static readonly float[] StableDiffusionXLBias = [0.1084f, -0.0175f, -0.0011f];

    /// <summary>One image's latents [4, h, w] to interleaved RGB bytes of h x w pixels.</summary>
    public static byte[] ToRgb(ReadOnlySpan<float> latents, LatentShape shape, ModelFamily family)
    {
        var (factors, bias) = family == ModelFamily.StableDiffusionXL
            ? (StableDiffusionXLFactors, StableDiffusionXLBias)
            : (StableDiffusionFactors, StableDiffusionBias);
        int pixels = shape.Height * shape.Width;
        var planes = new float[3 * pixels];
        for (int c = 0; c < 3; c++)
        {
            var plane = planes.AsSpan(c * pixels, pixels);
            plane.Fill(bias[c]);
            for (int k = 0; k < shape.Channels; k++)
            {
                var channel = latents.Slice(k * pixels, pixels);
                float factor = factors[k, c];
                for (int i = 0; i < pixels; i++) plane[i] += channel[i] * factor;
            }
        }
        return VaeDecoder.ToRgb(planes, pixels);
    }
}
