namespace Lcm.Engine.Guidance;

/// <summary>
/// What the encode-prompt phase gives the denoiser, one entry per request (or per image, after
/// <see cref="ForImages"/>): diffusers' prompt_embeds, negative_prompt_embeds (only where the
/// guidance needs them) and the guidance scales. The embeddings are [count, 77, hidden] back to back.
/// </summary>
internal sealed record PromptConditioning(float[] PromptEmbeds, float[]? NegativePromptEmbeds, double[] GuidanceScales)
{
    public int Count => GuidanceScales.Length;

    /// <summary>The entries of <paramref name="requests"/>, in that order; a request repeats once for each of its images.</summary>
    public PromptConditioning ForImages(IReadOnlyList<int> requests) =>
        new(Gather(PromptEmbeds, requests), NegativePromptEmbeds is null ? null : Gather(NegativePromptEmbeds, requests),
            requests.Select(r => GuidanceScales[r]).ToArray());

    private float[] Gather(float[] embeds, IReadOnlyList<int> requests)
    {
        int size = embeds.Length / Count;
        var gathered = new float[requests.Count * size];
        for (int i = 0; i < requests.Count; i++) embeds.AsSpan(requests[i] * size, size).CopyTo(gathered.AsSpan(i * size));
        return gathered;
    }
}
