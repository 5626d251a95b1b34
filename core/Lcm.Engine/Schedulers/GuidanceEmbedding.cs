namespace Lcm.Engine.Schedulers;

/// <summary>
/// The guidance-scale embedding that distilled LCMs take as <c>timestep_cond</c> instead of an
/// unconditional pass (diffusers' get_guidance_scale_embedding). Computed in float32 as diffusers
/// does: the sine arguments reach thousands, where float64 would give visibly different values.
/// </summary>
internal static class GuidanceEmbedding
{
    public static float[] Compute(double guidanceScale, int dimension)
    {
        if (dimension < 2) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be at least 2");
        var embedding = new float[dimension];
        Write(guidanceScale, embedding);
        return embedding;
    }

    /// <summary>Writes the embedding of one guidance scale into <paramref name="destination"/> (its length is the dimension).</summary>
    public static void Write(double guidanceScale, Span<float> destination)
    {
        int half = destination.Length / 2;
        float w = (float)(guidanceScale - 1) * 1000f;
        float exponent = MathF.Log(10000f) / Math.Max(half - 1, 1);
        for (int j = 0; j < half; j++)
        {
            float frequency = (float)Math.Exp((float)j * -exponent);
            float argument = w * frequency;
            destination[j] = (float)Math.Sin(argument);
            destination[half + j] = (float)Math.Cos(argument);
        }
        // An odd dimension gets a zero pad, as in diffusers.
        if (destination.Length % 2 == 1) destination[^1] = 0f;
    }
}
