using System.Threading.Channels;

namespace Lcm.Realtime;

/// <summary>What a session asks the engine for: a camera frame (image mode) or a new text picture (no frame).</summary>
internal sealed record RealtimeInput(long Number, byte[]? Frame, long ReceivedTimestamp);

/// <summary>A result for the client: its frame message, then its JPEG.</summary>
internal sealed record RealtimeOutput(RealtimeFrame Frame, byte[] Jpeg);

/// <summary>
/// One client's state between its socket and the engine loop: the latest params, one pending input
/// and one unsent output (latest wins both ways), and the errors to tell it.
/// </summary>
internal sealed class RealtimeSession(string id, long seed, TimeProvider time)
{
    private RealtimeParams _params = new();
    private long _messages;
    private int _paramsVersion;

    public string Id { get; } = id;
    /// <summary>The seed of frames whose params give none: fixed for the session, so the picture holds still between frames.</summary>
    public long Seed { get; } = seed;
    public RealtimeParams Params => Volatile.Read(ref _params);
    public LatestSlot<RealtimeInput> Inputs { get; } = new();
    public LatestSlot<RealtimeOutput> Outputs { get; } = new();
    /// <summary>Errors wait in a short line; when the client does not read, the oldest go.</summary>
    public Channel<string> Errors { get; } = Channel.CreateBounded<string>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.DropOldest });
    /// <summary>When the engine loop last took an input of this session, for the fps cap.</summary>
    public long LastStartedTimestamp { get; set; } = long.MinValue;

    /// <summary>Every message from the client gets the next number (from 1): a result names the one it answers.</summary>
    public long NextMessage() => Interlocked.Increment(ref _messages);

    /// <summary>New params (message <paramref name="number"/>); in text mode a new picture after <paramref name="debounce"/>, unless newer params came meanwhile.</summary>
    public void SetParams(RealtimeParams value, long number, TimeSpan debounce, Action onInput)
    {
        Volatile.Write(ref _params, value);
        int version = Interlocked.Increment(ref _paramsVersion);
        if (value.Mode != RealtimeMode.Text) return;
        _ = Task.Delay(debounce, time).ContinueWith(_ =>
        {
            if (Volatile.Read(ref _paramsVersion) != version) return;
            Offer(number, null);
            onInput();
        }, TaskScheduler.Default);
    }

    /// <summary>A new input replaces the one still waiting (counted in <see cref="LatestSlot{T}.Dropped"/>).</summary>
    public void Offer(long number, byte[]? frame) => Inputs.Put(new RealtimeInput(number, frame, time.GetTimestamp()));

    public void Tell(string code, string message) => Errors.Writer.TryWrite(RealtimeMessages.Error(code, message));
}
