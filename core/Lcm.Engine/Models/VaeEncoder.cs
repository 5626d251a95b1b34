using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>
/// The VAE encoder graph, in either export variant: <c>latent_sample</c> (sampled inside the graph)
/// or <c>latent_parameters</c> (mean and log-variance, which the engine samples with the image's
/// seeded generator, so the result is deterministic). The full AutoencoderKL or a tiny AutoencoderTiny
/// (TAESD), each with its own scaling factor to UNet latents (1 for the tiny ones).
/// </summary>
public sealed class VaeEncoder : IDisposable
{
    private readonly OnnxGraph _graph;
    private readonly TensorElementType _sampleType;
    private readonly string _output;

    public VaeEncoder(OnnxGraph graph, double scalingFactor)
    {
        (_graph, ScalingFactor) = (graph, scalingFactor);
        _sampleType = graph.RequireInput("sample", OnnxGraph.FloatTypes, 4).ElementDataType;
        _output = graph.Session.OutputMetadata.ContainsKey("latent_parameters") ? "latent_parameters" : "latent_sample";
        graph.RequireOutput(_output, OnnxGraph.FloatTypes, 4);
    }

    public OnnxGraph Graph => _graph;

    /// <summary>What the encoded latents are multiplied by to be the UNet's.</summary>
    public double ScalingFactor { get; }

    /// <summary>True when the graph returns mean and log-variance for the engine to sample.</summary>
    public bool ReturnsParameters => _output == "latent_parameters";

    /// <summary>
    /// Encodes one picture: [4, h, w] latents, or [8, h, w] parameters (mean, then log-variance), in
    /// tiles where the memory budget gave <paramref name="tiling"/> (only for pictures larger than a tile).
    /// </summary>
    public float[] Encode(RgbImage image, RunOptions runOptions, VaeTiling? tiling = null)
    {
        int pixels = image.Width * image.Height;
        var planes = new float[3 * pixels];
        // Pixels to [-1, 1] in planar RGB, as diffusers' image processor normalises.
        for (int i = 0; i < pixels; i++)
            for (int c = 0; c < 3; c++)
                planes[c * pixels + i] = image.Rgb[3 * i + c] / 255f * 2f - 1f;
        return tiling is not null
            ? tiling.Encode(planes, 3, image.Height, image.Width, tile => Run(tile, runOptions))
            : Run(new VaeTiling.Planes(planes, 3, image.Height, image.Width), runOptions).Values;
    }

    private VaeTiling.Planes Run(VaeTiling.Planes picture, RunOptions runOptions)
    {
        using var input = OnnxGraph.FloatTensor(picture.Values, [1, 3, picture.Height, picture.Width], _sampleType);
        float[] output = _graph.Run(new Dictionary<string, OrtValue> { ["sample"] = input }, _output, runOptions);
        var latent = LatentShape.FromImage(picture.Width, picture.Height);
        int channels = (ReturnsParameters ? 2 : 1) * latent.Channels;
        if (output.Length != channels * latent.Height * latent.Width)
            throw new ModelFormatException($"'{_graph.Path}' output '{_output}' has {output.Length} values; expected {channels * latent.Height * latent.Width} for a {picture.Width}x{picture.Height} image");
        return new VaeTiling.Planes(output, channels, latent.Height, latent.Width);
    }

    /// <summary>mean + exp(logvar / 2) * z, with the log-variance clamped to [-30, 20] as diffusers does.</summary>
    public static void Sample(ReadOnlySpan<float> parameters, ReadOnlySpan<float> z, Span<float> latents)
    {
        int n = latents.Length;
        for (int i = 0; i < n; i++)
            latents[i] = parameters[i] + MathF.Exp(Math.Clamp(parameters[n + i], -30f, 20f) / 2f) * z[i];
    }

    public void Dispose() => _graph.Dispose();
}
