namespace Lcm.Engine.Models;

/// <summary>
/// A UNet batch's conditioning inputs, image after image: <c>encoder_hidden_states</c> [batch, 77, hidden];
/// for SDXL the pooled <c>text_embeds</c> [batch, pooled] and <c>time_ids</c> [batch, 6]; for a
/// distilled LCM <c>timestep_cond</c> [batch, dim].
/// </summary>
public sealed record UnetConditioning(float[] EncoderHiddenStates, float[]? TextEmbeds = null, float[]? TimeIds = null, float[]? TimestepCond = null)
{
    /// <summary>Images <paramref name="first"/> to first + count - 1 of a batch of <paramref name="batch"/>.</summary>
    public UnetConditioning Slice(int first, int count, int batch) => new(
        Part(EncoderHiddenStates, first, count, batch)!, Part(TextEmbeds, first, count, batch),
        Part(TimeIds, first, count, batch), Part(TimestepCond, first, count, batch));

    private static float[]? Part(float[]? values, int first, int count, int batch)
    {
        if (values is null) return null;
        int size = values.Length / batch;
        return values[(first * size)..((first + count) * size)];
    }
}
