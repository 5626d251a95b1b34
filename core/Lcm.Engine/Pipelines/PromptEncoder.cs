using Lcm.Engine.Loaders;
using Lcm.Engine.Models;
using Lcm.Engine.Text;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Pipelines;

/// <summary>diffusers' prompt_embeds [count, 77, hidden] and, for SDXL, pooled_prompt_embeds [count, pooled], prompt after prompt.</summary>
internal sealed record TextEmbeddings(float[] Hidden, float[]? Pooled);

/// <summary>The embeddings of a list of prompts, and how many of its distinct prompts ran through the encoders or came from the cache.</summary>
internal sealed record EncodedPrompts(TextEmbeddings Embeddings, int Encoded, int Reused);

/// <summary>
/// The encode-prompt phase, as diffusers' encode_prompt: each tokenizer with its text encoder, the
/// hidden states concatenated on the last axis ([te1 | te2] for SDXL), the pooled embedding from the
/// last encoder. SD 1.5 is the one-encoder case. Prompts encoded before come from a <see cref="PromptEmbeddingCache"/>.
/// </summary>
internal sealed class PromptEncoder(IReadOnlyList<(string Name, ClipTokenizer Tokenizer, TextEncoder Encoder)> encoders, bool zerosForAbsentNegative) : IDisposable
{
    private readonly PromptEmbeddingCache _cache = new(PromptEmbeddingCache.DefaultMaxBytes);

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

    /// <summary>
    /// The embeddings of each prompt (as <see cref="Tokenize"/> gave it); a null prompt gets zeros shaped like
    /// <paramref name="zerosLike"/>'s. Each distinct prompt is encoded alone, or taken from the prompts encoded before.
    /// </summary>
    public EncodedPrompts Encode(IReadOnlyList<TokenizedPrompt[]?> prompts, RunOptions runOptions, TextEmbeddings? zerosLike = null)
    {
        int encoded = 0, reused = 0;
        var each = new TextEmbeddings?[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i] is not { } prompt) continue;
            string key = Key(prompt);
            if (_cache.TryGet(key, out var embeddings)) reused++;
            else
            {
                embeddings = EncodeAlone(prompt, runOptions);
                _cache.Add(key, embeddings);
                encoded++;
            }
            each[i] = embeddings;
        }
        return new EncodedPrompts(Join(each, zerosLike), encoded, reused);
    }

    /// <summary>The prompts' embeddings back to back; zeros for a null one, the size of <paramref name="zerosLike"/>'s entries.</summary>
    private static TextEmbeddings Join(TextEmbeddings?[] each, TextEmbeddings? zerosLike)
    {
        var shape = each.FirstOrDefault(e => e is not null);
        if (shape is null && zerosLike is null)
            throw new ArgumentNullException(nameof(zerosLike), "a null prompt needs embeddings to take the zeros' shape from");
        int hidden = shape?.Hidden.Length ?? zerosLike!.Hidden.Length / each.Length;
        int? pooled = shape is null ? zerosLike!.Pooled?.Length / each.Length : shape.Pooled?.Length;
        var result = new TextEmbeddings(new float[each.Length * hidden], pooled is int p ? new float[each.Length * p] : null);
        for (int i = 0; i < each.Length; i++)
        {
            if (each[i] is not { } e) continue;
            e.Hidden.CopyTo(result.Hidden, i * hidden);
            e.Pooled?.CopyTo(result.Pooled!, i * pooled!.Value);
        }
        return result;
    }

    /// <summary>
    /// One prompt through every encoder, the hidden states side by side per token. Alone, because ONNX Runtime may
    /// round a row differently in another batch: a prompt's embeddings are then the same whatever it came with.
    /// </summary>
    private TextEmbeddings EncodeAlone(TokenizedPrompt[] prompt, RunOptions runOptions)
    {
        var outputs = encoders.Select((e, k) => e.Encoder.Encode([prompt[k].Ids], runOptions)).ToArray();
        if (outputs.Length == 1) return new TextEmbeddings(outputs[0].Hidden, outputs[0].Pooled);
        int tokens = ClipTokenizer.MaxLength;
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

    private static string Key(TokenizedPrompt[] prompt) => string.Join('|', prompt.Select(p => string.Join(',', p.Ids)));

    public void Dispose()
    {
        foreach (var e in encoders) e.Encoder.Dispose();
    }
}
