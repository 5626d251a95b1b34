using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Pipelines;

namespace Lcm.Jobs;

/// <summary>
/// The engines of LoRA-merged variants a worker keeps loaded, least recently used evicted beyond the
/// capacity. An evicted engine still in use by a generation is disposed when the last lease on it is
/// released, so eviction never pulls an engine from under a running job. Concurrent requests for one
/// variant share one load; a failed load is not kept.
/// </summary>
internal sealed class MergedEngineCache(int capacity, Func<IReadOnlyList<LoraFile>, LcmEngine> load) : IDisposable
{
    private readonly object _lock = new();
    // Most recently used first.
    private readonly LinkedList<Entry> _order = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);

    /// <summary>Variants held (loaded or loading).</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _entries.Count;
        }
    }

    /// <summary>The engine for these LoRAs at these scales, loading (and merging) it when missing. Dispose the lease when done with it.</summary>
    public Lease Acquire(IReadOnlyList<LoraFile> loras)
    {
        Entry entry;
        lock (_lock)
        {
            string key = Key(loras);
            if (_entries.TryGetValue(key, out var node)) _order.Remove(node);
            else _entries[key] = node = new LinkedListNode<Entry>(new Entry(key, new Lazy<LcmEngine>(() => load(loras))));
            _order.AddFirst(node);
            entry = node.Value;
            entry.Users++;
            while (_order.Count > capacity) Evict(_order.Last!);
        }
        try
        {
            return new Lease(entry.Engine.Value, () => Release(entry));
        }
        catch
        {
            lock (_lock)
                if (_entries.TryGetValue(entry.Key, out var node) && node.Value == entry) Evict(node);
            Release(entry);
            throw;
        }
    }

    public void Dispose()
    {
        lock (_lock)
            while (_order.Last is { } last) Evict(last);
    }

    /// <summary>
    /// A file's path, size and time with its scale: a LoRA file replaced under its name loads anew (the
    /// merge itself is cached on disk by content).
    /// </summary>
    private static string Key(IReadOnlyList<LoraFile> loras) => string.Join("|", loras.Select(l =>
    {
        var file = new FileInfo(l.Path);
        return $"{file.FullName}:{(file.Exists ? file.Length : -1)}:{(file.Exists ? file.LastWriteTimeUtc.Ticks : 0)}*{l.Scale:R}";
    }));

    // Called under the lock.
    private void Evict(LinkedListNode<Entry> node)
    {
        _order.Remove(node);
        _entries.Remove(node.Value.Key);
        node.Value.Evicted = true;
        if (node.Value.Users == 0) DisposeEngine(node.Value);
    }

    private void Release(Entry entry)
    {
        lock (_lock)
        {
            entry.Users--;
            if (entry.Evicted && entry.Users == 0) DisposeEngine(entry);
        }
    }

    private static void DisposeEngine(Entry entry)
    {
        if (entry.Engine.IsValueCreated) entry.Engine.Value.Dispose();
    }

    private sealed class Entry(string key, Lazy<LcmEngine> engine)
    {
        public string Key { get; } = key;
        public Lazy<LcmEngine> Engine { get; } = engine;
        public int Users { get; set; }
        public bool Evicted { get; set; }
    }

    /// <summary>Use of one variant's engine; disposing it lets an evicted engine go.</summary>
    internal sealed class Lease : IDisposable
    {
        private readonly Action _release;
        private int _released;

        internal Lease(LcmEngine engine, Action release) => (Engine, _release) = (engine, release);

        public LcmEngine Engine { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) _release();
        }
    }
}
