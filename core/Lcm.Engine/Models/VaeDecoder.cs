using Lcm.Contracts;
using Lcm.Engine.Loaders;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>
/// A VAE decoder graph: latent_sample [1, 4, h, w] to sample [1, 3, 8h, 8w] in [-1, 1]. The full
/// AutoencoderKL or a tiny AutoencoderTiny (TAESD): the same graph contract, each with its own
/// scaling factor (0.18215 or 0.13025 for the full ones, 1 for the tiny ones).
/// </summary>
internal sealed class VaeDecoder : IDisposable
{
    private readonly OnnxGraph _graph;
    private readonly TensorElementType _latentType;
    private readonly double _scalingFactor;

    public VaeDecoder(OnnxGraph graph, double scalingFactor)
    {
        (_graph, _scalingFactor) = (graph, scalingFactor);
        _latentType = graph.RequireInput("latent_sample", OnnxGraph.FloatTypes, 4).ElementDataType;
        graph.RequireOutput("sample", OnnxGraph.FloatTypes, 4);
    }

    /// <summary>
    /// Decodes one image's denoised latents (as the UNet works on them) to RGB pixels, in tiles
    /// where the memory budget gave <paramref name="tiling"/> (only for images larger than a tile).
    /// </summary>
    public byte[] Decode(float[] denoised, LatentShape shape, RunOptions runOptions, VaeTiling? tiling = null)
    {
        float[] latents = Array.ConvertAll(denoised, v => (float)(v / _scalingFactor));
        float[] planes = tiling is not null
            ? tiling.Decode(latents, shape.Channels, shape.Height, shape.Width, tile => Run(tile, runOptions))
            : Run(new VaeTiling.Planes(latents, shape.Channels, shape.Height, shape.Width), runOptions).Values;
        // A NaN would become black pixels: the job must fail instead of looking like a success.
        if (!AllFinite(planes))
            throw new ModelOutputException(JobErrorCodes.VaeOverflow,
                $"'{_graph.Path}' gave NaN or infinite values, as SDXL's VAE does in float16: use a float32 vae_decoder " +
                "(export it without --fp16) or the float16-safe madebyollin/sdxl-vae-fp16-fix VAE");
        return ToRgb(planes, shape.PixelHeight * shape.PixelWidth);
    }

    private VaeTiling.Planes Run(VaeTiling.Planes latents, RunOptions runOptions)
    {
        using var input = OnnxGraph.FloatTensor(latents.Values, [1, latents.Channels, latents.Height, latents.Width], _latentType);
        float[] planes = _graph.Run(new Dictionary<string, OrtValue> { ["latent_sample"] = input }, "sample", runOptions);
        int height = latents.Height * 8, width = latents.Width * 8;
        if (planes.Length != 3 * height * width)
            throw new ModelFormatException($"'{_graph.Path}' output 'sample' has {planes.Length} values; expected 3 x {height} x {width}");
        return new VaeTiling.Planes(planes, 3, height, width);
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) return false;
        }
        return true;
    }

    /// <summary>CHW floats in [-1, 1] to interleaved RGB bytes: round(clamp(x / 2 + 0.5, 0, 1) * 255), in float32 as diffusers.</summary>
    public static byte[] ToRgb(ReadOnlySpan<float> planes, int pixels)
    {
        var rgb = new byte[3 * pixels];
        for (int c = 0; c < 3; c++)
        {
            var plane = planes.Slice(c * pixels, pixels);
            for (int i = 0; i < pixels; i++)
            {
                float v = Math.Clamp(plane[i] / 2f + 0.5f, 0f, 1f);
                rgb[3 * i + c] = (byte)MathF.Round(v * 255f, MidpointRounding.ToEven);
            }
        }
        return rgb;
    }

    public OnnxGraph Graph => _graph;

    public void Dispose() => _graph.Dispose();
}
