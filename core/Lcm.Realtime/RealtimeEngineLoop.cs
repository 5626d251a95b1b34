using System.Diagnostics;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Realtime;

/// <summary>
/// The one loop that runs the process's engine for every session: it takes the next session with an
/// input in round-robin order, adds the waiting inputs of other sessions with the same size, steps
/// and strength (one engine batch: StreamDiffusion's stream batch), runs them, and leaves each result
/// in its session's output slot. It never waits on a client.
/// </summary>
internal sealed class RealtimeEngineLoop(LcmEngine engine, RealtimeOptions options, TimeProvider time, ILogger<RealtimeEngineLoop> logger) : BackgroundService
{
    private readonly Lock _gate = new();
    private readonly List<RealtimeSession> _sessions = [];
    private readonly SemaphoreSlim _wake = new(0);
    private int _next;

    public LcmEngine Engine => engine;

    /// <summary>Adds a session unless <see cref="RealtimeOptions.MaxSessions"/> are open.</summary>
    public bool TryAdd(RealtimeSession session)
    {
        lock (_gate)
        {
            if (_sessions.Count >= options.MaxSessions) return false;
            _sessions.Add(session);
            return true;
        }
    }

    public void Remove(RealtimeSession session)
    {
        lock (_gate) _sessions.Remove(session);
    }

    /// <summary>Tells the loop that a session has an input.</summary>
    public void Wake() => _wake.Release();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the host's start-up thread: generation is synchronous and long.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var (batch, wait) = NextBatch();
            if (batch.Count == 0)
            {
                try
                {
                    await _wake.WaitAsync(wait, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            await Task.Run(() => Run(batch), stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>The next batch, or none and how long until a session's fps cap lets it run.</summary>
    internal (List<(RealtimeSession Session, RealtimeInput Input, RealtimeParams Params)> Batch, TimeSpan Wait) NextBatch()
    {
        var batch = new List<(RealtimeSession, RealtimeInput, RealtimeParams)>();
        TimeSpan wait = Timeout.InfiniteTimeSpan;
        long now = time.GetTimestamp();
        long interval = time.TimestampFrequency / options.MaxFps;
        lock (_gate)
        {
            (int Width, int Height, int Steps, double Strength)? key = null;
            int start = _next;
            for (int i = 0; i < _sessions.Count && batch.Count < options.MaxBatch; i++)
            {
                int at = (start + i) % _sessions.Count;
                var session = _sessions[at];
                if (!session.Inputs.HasItem) continue;
                long due = session.LastStartedTimestamp == long.MinValue ? now : session.LastStartedTimestamp + interval;
                if (due > now)
                {
                    var left = TimeSpan.FromSeconds((double)(due - now) / time.TimestampFrequency);
                    wait = wait == Timeout.InfiniteTimeSpan || left < wait ? left : wait;
                    continue;
                }
                var parameters = session.Params;
                var sessionKey = parameters.BatchKey(engine.Capabilities);
                if (key is not null && key != sessionKey) continue;
                if (session.Inputs.TryTake() is not { } input) continue;
                // Round robin: the session after the first one taken goes first next time.
                if (key is null) _next = at + 1;
                key = sessionKey;
                session.LastStartedTimestamp = now;
                batch.Add((session, input, parameters));
            }
        }
        return (batch, wait);
    }

    private void Run(List<(RealtimeSession Session, RealtimeInput Input, RealtimeParams Params)> taken)
    {
        var ready = new List<(RealtimeSession Session, RealtimeInput Input, GenerationRequest Request)>();
        foreach (var (session, input, parameters) in taken)
        {
            try
            {
                var request = Request(session, input, parameters);
                engine.Validate(request);
                ready.Add((session, input, request));
            }
            catch (InvalidRequestException e)
            {
                // The engine's own codes (invalid_strength, image_corrupt, ...): the same words a job gets.
                session.Tell(e.Code, e.Message);
            }
        }
        if (ready.Count == 0) return;
        long started = time.GetTimestamp();
        IReadOnlyList<GenerationResult> results;
        try
        {
            results = engine.GenerateBatch([.. ready.Select(r => r.Request)]);
        }
        catch (Exception e) when (e is InvalidRequestException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException or ModelOutputException)
        {
            logger.LogWarning(e, "A real-time batch of {Count} failed", ready.Count);
            foreach (var (session, _, _) in ready) session.Tell(RealtimeErrors.GenerationFailed, e.Message);
            return;
        }
        double generateMs = time.GetElapsedTime(started).TotalMilliseconds;
        for (int i = 0; i < ready.Count; i++)
        {
            var (session, input, request) = ready[i];
            long encodeStart = time.GetTimestamp();
            var image = results[i].Images[0];
            byte[] jpeg = ImageEncoder.Encode(image, OutputFormat.Jpeg, options.Quality);
            double encodeMs = time.GetElapsedTime(encodeStart).TotalMilliseconds;
            double queuedMs = TimeSpan.FromSeconds((double)(started - input.ReceivedTimestamp) / time.TimestampFrequency).TotalMilliseconds;
            session.Outputs.Put(new RealtimeOutput(new RealtimeFrame(input.Number, image.Seed, image.Width, image.Height, ready.Count,
                queuedMs, generateMs, encodeMs, results[i].Timings, session.Inputs.Dropped, session.Outputs.Dropped), jpeg));
        }
    }

    /// <summary>The frame's request; its picture decoded only now, so frames that lost to newer ones never were.</summary>
    private GenerationRequest Request(RealtimeSession session, RealtimeInput input, RealtimeParams parameters)
    {
        var request = parameters.ToRequest(engine.Capabilities, session.Seed, init: null);
        if (parameters.Mode == RealtimeMode.Text) return request;
        if (input.Frame is null)
            throw new InvalidRequestException(RealtimeErrors.InvalidParams, "image mode generates from the binary frames the client sends; send one");
        return request with
        {
            InitImage = ImageInput.Decode(input.Frame, request.Width, request.Height, options.FrameLimits),
            Strength = parameters.Strength,
        };
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
