using Lcm.Engine.Loaders;
using Lcm.Engine.Models;
using Lcm.Engine.Text;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Pipelines;

/// <summary>diffusers' prompt_embeds [count, 77, hidden] and, for SDXL, pooled_prompt_embeds [count, pooled], prompt after prompt.</summary>
internal sealed record TextEmbeddings(float[] Hidden, float[]? Pooled);

/// <summary>
/// The encode-prompt phase, as diffusers' encode_prompt: each tokenizer with its text encoder, the
/// hidden states concatenated on the last axis ([te1 | te2] for SDXL), the pooled embedding from the
/// last encoder. SD 1.5 is the one-encoder case.
/// </summary>
internal sealed class PromptEncoder(IReadOnlyList<(string Name, ClipTokenizer Tokenizer, TextEncoder Encoder)> encoders, bool zerosForAbsentNegative) : IDisposable
{
    /// <summary>The first tokenizer, whose ids <c>lcm tokenize</c> prints.</summary>
    public ClipTokenizer Tokenizer => encoders[0].Tokenizer;

    /// <summary>
    /// SDXL's force_zeros_for_empty_prompt: a request without a negative prompt guides against zero
    /// embeddings, while an empty negative prompt is encoded like any text.
    /// </summary>
    public bool ZerosForAbsentNegative => zerosForAbsentNegative;

    public IEnumerable<(string Name, OnnxGraph Graph)> Graphs => encoders.Select(e => (e.Name, e.Encoder.Graph));

    /// <summary>The width of the concatenated hidden states, when every graph fixes its own.</summary>
    public int? HiddenSize => encoders.All(e => e.Encoder.HiddenSize is not null) ? encoders.Sum(e => e.Encoder.HiddenSize!.Value) : null;

    /// <summary>The width of the pooled embedding, when the last graph fixes it.</summary>
    public int? PooledSize => encoders[^1].Encoder.PooledSize;

    /// <summary>The text's ids for each tokenizer, in encoder order.</summary>
    public TokenizedPrompt[] Tokenize(string text) => encoders.Select(e => e.Tokenizer.Encode(text)).ToArray();

    /// <summary>The embeddings of each prompt (as <see cref="Tokenize"/> gave it); a null prompt gets zeros shaped like <paramref name="zerosLike"/>'s.</summary>
    public TextEmbeddings Encode(IReadOnlyList<TokenizedPrompt[]?> prompts, RunOptions runOptions, TextEmbeddings? zerosLike = null)
    {
        int[] encoded = Enumerable.Range(0, prompts.Count).Where(i => prompts[i] is not null).ToArray();
        if (encoded.Length == prompts.Count) return Encode(prompts.Select(p => p!).ToArray(), runOptions);
        var like = zerosLike ?? throw new ArgumentNullException(nameof(zerosLike), "a null prompt needs embeddings to take the zeros' shape from");
        int hidden = like.Hidden.Length / prompts.Count, pooled = (like.Pooled?.Length ?? 0) / prompts.Count;
        var result = new TextEmbeddings(new float[like.Hidden.Length], like.Pooled is null ? null : new float[like.Pooled.Length]);
        if (encoded.Length == 0) return result;
        var some = Encode(encoded.Select(i => prompts[i]!).ToArray(), runOptions);
        for (int k = 0; k < encoded.Length; k++)
        {
            some.Hidden.AsSpan(k * hidden, hidden).CopyTo(result.Hidden.AsSpan(encoded[k] * hidden));
            some.Pooled?.AsSpan(k * pooled, pooled).CopyTo(result.Pooled!.AsSpan(encoded[k] * pooled));
        }
        return result;
    }

    private TextEmbeddings Encode(TokenizedPrompt[][] prompts, RunOptions runOptions)
    {
        var outputs = encoders.Select((e, k) => e.Encoder.Encode(prompts.Select(p => p[k].Ids).ToArray(), runOptions)).ToArray();
        if (outputs.Length == 1) return new TextEmbeddings(outputs[0].Hidden, outputs[0].Pooled);
        int tokens = prompts.Length * ClipTokenizer.MaxLength;
        int[] widths = outputs.Select(o => o.Hidden.Length / tokens).ToArray();
        int width = widths.Sum();
        var hidden = new float[tokens * width];
        for (int t = 0; t < tokens; t++)
        {
            int offset = t * width;
            for (int k = 0; k < outputs.Length; k++)
            {
                outputs[k].Hidden.AsSpan(t * widths[k], widths[k]).CopyTo(hidden.AsSpan(offset));
                offset += widths[k];
            }
        }
        return new TextEmbeddings(hidden, outputs[^1].Pooled);
    }

    public void Dispose()
    {
        foreach (var e in encoders) e.Encoder.Dispose();
    }
}
