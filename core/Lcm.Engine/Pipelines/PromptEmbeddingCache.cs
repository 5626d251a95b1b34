namespace Lcm.Engine.Pipelines;

/// <summary>
/// The embeddings of recently encoded prompts by their token ids, the least recently used dropped
/// first once the entries pass <paramref name="maxBytes"/>. A real-time session redraws frame after
/// frame with one prompt, and a burst of jobs often shares a prompt or a negative prompt: each is
/// encoded once while it stays here. Every entry is a prompt encoded alone, so what a request gets
/// does not depend on what ran before it.
/// </summary>
internal sealed class PromptEmbeddingCache(long maxBytes)
{
    /// <summary>About 140 SD 1.5 prompts or 50 SDXL ones: more than the sessions and jobs of a replica cycle through.</summary>
    public const long DefaultMaxBytes = 32L << 20;

    private readonly Dictionary<string, LinkedListNode<(string Key, TextEmbeddings Embeddings)>> _entries = [];
    private readonly LinkedList<(string Key, TextEmbeddings Embeddings)> _recent = new();
    private readonly Lock _lock = new();
    private long _bytes;

    public bool TryGet(string key, out TextEmbeddings embeddings)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node))
            {
                embeddings = null!;
                return false;
            }
            _recent.Remove(node);
            _recent.AddFirst(node);
            embeddings = node.Value.Embeddings;
            return true;
        }
    }

    public void Add(string key, TextEmbeddings embeddings)
    {
        long size = Bytes(embeddings);
        if (size > maxBytes) return;
        lock (_lock)
        {
            if (_entries.ContainsKey(key)) return;
            _entries[key] = _recent.AddFirst((key, embeddings));
            _bytes += size;
            while (_bytes > maxBytes)
            {
                var oldest = _recent.Last!;
                _recent.RemoveLast();
                _entries.Remove(oldest.Value.Key);
                _bytes -= Bytes(oldest.Value.Embeddings);
            }
        }
    }

    private static long Bytes(TextEmbeddings embeddings) => 4L * (embeddings.Hidden.Length + (embeddings.Pooled?.Length ?? 0));
}
