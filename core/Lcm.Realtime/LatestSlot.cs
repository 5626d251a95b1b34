namespace Lcm.Realtime;

/// <summary>
/// Holds at most one item: a newer one replaces the one still waiting, and each replaced one is
/// counted. It is how a session never queues work behind a slow engine or a slow client.
/// </summary>
internal sealed class LatestSlot<T> where T : class
{
    private readonly Lock _gate = new();
    private T? _item;
    private TaskCompletionSource _filled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _dropped;

    public long Dropped => Interlocked.Read(ref _dropped);

    public bool HasItem
    {
        get { lock (_gate) return _item is not null; }
    }

    public void Put(T item)
    {
        lock (_gate)
        {
            if (_item is not null) Interlocked.Increment(ref _dropped);
            _item = item;
            _filled.TrySetResult();
        }
    }

    public T? TryTake()
    {
        lock (_gate)
        {
            var item = _item;
            if (item is null) return null;
            _item = null;
            _filled = new(TaskCreationOptions.RunContinuationsAsynchronously);
            return item;
        }
    }

    /// <summary>Completes once an item is waiting (it is not taken).</summary>
    public Task WhenFilled(CancellationToken cancellationToken)
    {
        lock (_gate) return _filled.Task.WaitAsync(cancellationToken);
    }
}
