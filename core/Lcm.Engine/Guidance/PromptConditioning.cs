using Lcm.Engine.Pipelines;

namespace Lcm.Engine.Guidance;

/// <summary>
/// What the encode-prompt phase gives the denoiser, one entry per request (or per image, after
/// <see cref="ForImages"/>): diffusers' prompt embeddings, the negative ones (only where the guidance
/// needs them), SDXL's add_time_ids (6 values each) and the guidance scales.
/// </summary>
internal sealed record PromptConditioning(TextEmbeddings Prompt, TextEmbeddings? Negative, float[]? TimeIds, double[] GuidanceScales)
{
    public int Count => GuidanceScales.Length;

    /// <summary>The entries of <paramref name="requests"/>, in that order; a request repeats once for each of its images.</summary>
    public PromptConditioning ForImages(IReadOnlyList<int> requests) =>
        new(Gather(Prompt, requests), Negative is null ? null : Gather(Negative, requests), Gather(TimeIds, requests),
            requests.Select(r => GuidanceScales[r]).ToArray());

    /// <summary>Whether <paramref name="other"/> holds the same values: the UNet would be bound with the same inputs.</summary>
    public bool SameAs(PromptConditioning other) =>
        GuidanceScales.AsSpan().SequenceEqual(other.GuidanceScales) && Same(TimeIds, other.TimeIds) &&
        Same(Prompt, other.Prompt) && (Negative is null ? other.Negative is null : other.Negative is not null && Same(Negative, other.Negative));

    private static bool Same(TextEmbeddings a, TextEmbeddings b) => Same(a.Hidden, b.Hidden) && Same(a.Pooled, b.Pooled);

    private static bool Same(float[]? a, float[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    private TextEmbeddings Gather(TextEmbeddings embeddings, IReadOnlyList<int> requests) =>
        new(Gather(embeddings.Hidden, requests)!, Gather(embeddings.Pooled, requests));

    private float[]? Gather(float[]? values, IReadOnlyList<int> requests)
    {
        if (values is null) return null;
        int size = values.Length / Count;
        var gathered = new float[requests.Count * size];
        for (int i = 0; i < requests.Count; i++) values.AsSpan(requests[i] * size, size).CopyTo(gathered.AsSpan(i * size));
        return gathered;
    }
}
