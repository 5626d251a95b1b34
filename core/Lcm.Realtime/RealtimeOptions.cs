using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Jobs;

namespace Lcm.Realtime;

/// <summary>The real-time service's limits and settings; <see cref="Read"/> is the one place they come from.</summary>
public sealed record RealtimeOptions
{
    public RealtimeAuth Auth { get; init; } = RealtimeAuth.None;
    public int MaxSessions { get; init; } = 8;
    /// <summary>The largest camera frame, in bytes and in pixels a side, checked from its header before it is decoded.</summary>
    public ImageInputLimits FrameLimits { get; init; } = new() { MaxBytes = 2 * 1024 * 1024, MaxDimension = 2048 };
    /// <summary>Frames a session may have generated per second; inputs beyond it are dropped as stale ones are.</summary>
    public int MaxFps { get; init; } = 30;
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public int Quality { get; init; } = 80;
    /// <summary>How long text mode waits after a params change for the next one, so typing is not a frame a key.</summary>
    public TimeSpan TextDebounce { get; init; } = TimeSpan.FromMilliseconds(150);
    /// <summary>Most frames, of as many sessions, in one engine batch.</summary>
    public int MaxBatch { get; init; } = 4;

    /// <summary>
    /// LCM_REALTIME_AUTH (none | token:SECRET | entra:TENANT_ID:AUDIENCE, with LCM_REALTIME_ENTRA_AUTHORITY and
    /// LCM_REALTIME_ENTRA_ROLE), LCM_REALTIME_MAX_SESSIONS, LCM_REALTIME_MAX_FRAME_BYTES,
    /// LCM_REALTIME_MAX_FRAME_PIXELS, LCM_REALTIME_MAX_FPS, LCM_REALTIME_IDLE_SECONDS, LCM_REALTIME_QUALITY,
    /// LCM_REALTIME_DEBOUNCE_MS and LCM_REALTIME_MAX_BATCH.
    /// </summary>
    public static RealtimeOptions Read(Func<string, string?> read)
    {
        var options = new RealtimeOptions
        {
            Auth = RealtimeAuth.Parse(read("LCM_REALTIME_AUTH") is { Length: > 0 } auth ? auth : "none", read("LCM_REALTIME_ENTRA_AUTHORITY"), read("LCM_REALTIME_ENTRA_ROLE")),
        };
        if (Settings.ReadInt(read, "LCM_REALTIME_MAX_SESSIONS", 1, 10_000) is int sessions) options = options with { MaxSessions = sessions };
        if (Settings.ReadInt(read, "LCM_REALTIME_MAX_FRAME_BYTES", 1024, 64 * 1024 * 1024) is int bytes)
            options = options with { FrameLimits = options.FrameLimits with { MaxBytes = bytes } };
        if (Settings.ReadInt(read, "LCM_REALTIME_MAX_FRAME_PIXELS", 64, 8192) is int pixels)
            options = options with { FrameLimits = options.FrameLimits with { MaxDimension = pixels } };
        if (Settings.ReadInt(read, "LCM_REALTIME_MAX_FPS", 1, 240) is int fps) options = options with { MaxFps = fps };
        if (Settings.ReadInt(read, "LCM_REALTIME_IDLE_SECONDS", 1, 86_400) is int idle) options = options with { IdleTimeout = TimeSpan.FromSeconds(idle) };
        if (Settings.ReadInt(read, "LCM_REALTIME_QUALITY", 1, 100) is int quality) options = options with { Quality = quality };
        if (Settings.ReadInt(read, "LCM_REALTIME_DEBOUNCE_MS", 0, 10_000) is int debounce) options = options with { TextDebounce = TimeSpan.FromMilliseconds(debounce) };
        if (Settings.ReadInt(read, "LCM_REALTIME_MAX_BATCH", 1, Engine.Pipelines.LcmEngine.MaxUnetBatch) is int batch) options = options with { MaxBatch = batch };
        return options;
    }
}
