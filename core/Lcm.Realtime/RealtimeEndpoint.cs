using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Realtime;

/// <summary>
/// <c>/v1/realtime</c>: one WebSocket is one session. A receive loop takes params and frames (sizes
/// checked as they arrive and from the picture's header, before any decoding), a send loop gives the
/// latest result and errors, and the session ends on the client's close, a breach (an <c>error</c>
/// message, then the close code), idle time or the server's shutdown.
/// </summary>
internal sealed class RealtimeEndpoint(RealtimeEngineLoop loop, RealtimeOptions options, IHostApplicationLifetime lifetime, TimeProvider time,
    ILogger<RealtimeEndpoint> logger)
{
    /// <summary>Params are small: more than this in a text message is not a params message.</summary>
    private const int MaxTextBytes = 64 * 1024;
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);

    private sealed record SessionEnd(string Code, string Message, int CloseCode);

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            await context.Response.WriteAsync("/v1/realtime takes a WebSocket; open it with new WebSocket(url) or a WebSocket client");
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        // Refusals come as an error message and a close code after the upgrade: a browser's WebSocket cannot read an HTTP status.
        if (await options.Auth.RefusalAsync(context.Request, context.RequestAborted) is { } refusal)
        {
            logger.LogWarning("Real-time session refused: {Reason}", refusal);
            await CloseAsync(socket, new SessionEnd(RealtimeErrors.Unauthorized, "a valid bearer token is needed: Authorization: Bearer TOKEN or ?access_token=TOKEN", RealtimeErrors.CloseUnauthorized));
            return;
        }
        var session = new RealtimeSession(Guid.NewGuid().ToString("N")[..12], Random.Shared.NextInt64(0, Contracts.RequestLimits.MaxSeed + 1), time);
        if (!loop.TryAdd(session))
        {
            await CloseAsync(socket, new SessionEnd(RealtimeErrors.TooManySessions, $"this server has its {options.MaxSessions} sessions open; try again later", RealtimeErrors.CloseTryAgainLater));
            return;
        }
        try
        {
            await RunAsync(socket, session, context.RequestAborted);
        }
        finally
        {
            loop.Remove(session);
        }
    }

    private async Task RunAsync(WebSocket socket, RealtimeSession session, CancellationToken aborted)
    {
        var engine = loop.Engine.Capabilities;
        await socket.SendAsync(Encoding.UTF8.GetBytes(RealtimeMessages.Ready(session.Id, options, engine.DefaultWidth, engine.DefaultHeight)),
            WebSocketMessageType.Text, true, aborted);
        var end = new TaskCompletionSource<SessionEnd?>(TaskCreationOptions.RunContinuationsAsynchronously);
        long lastActivity = time.GetTimestamp();
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var sending = SendLoopAsync(socket, session, stopSending.Token);
        var receiving = ReceiveLoopAsync(socket, session, () => Interlocked.Exchange(ref lastActivity, time.GetTimestamp()), end);
        using var shutdown = lifetime.ApplicationStopping.Register(() =>
            end.TrySetResult(new SessionEnd(RealtimeErrors.ServerShutdown, "the server is shutting down; reconnect to another replica", RealtimeErrors.CloseGoingAway)));
        using var idle = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Min(1000, options.IdleTimeout.TotalMilliseconds / 4)), time);
        _ = WatchIdleAsync(idle, () => Interlocked.Read(ref lastActivity), end);
        using var abortedRegistration = aborted.Register(() => end.TrySetResult(null));

        var outcome = await end.Task;
        await stopSending.CancelAsync();
        await sending;
        if (outcome is not null) await CloseAsync(socket, outcome);
        else if (socket.State == WebSocketState.CloseReceived) await CloseOutputAsync(socket, WebSocketCloseStatus.NormalClosure, "");
        // The client's close (or the connection's end) finishes the receive loop; one that never answers is cut off.
        if (await Task.WhenAny(receiving, Task.Delay(CloseWait, time)) != receiving) socket.Abort();
        if (outcome is not null) logger.LogInformation("Real-time session {Session} ended: {Code}", session.Id, outcome.Code);
    }

    private async Task WatchIdleAsync(PeriodicTimer timer, Func<long> lastActivity, TaskCompletionSource<SessionEnd?> end)
    {
        while (!end.Task.IsCompleted && await timer.WaitForNextTickAsync())
        {
            if (time.GetElapsedTime(lastActivity()) >= options.IdleTimeout)
                end.TrySetResult(new SessionEnd(RealtimeErrors.IdleTimeout, $"nothing came from the client for {options.IdleTimeout.TotalSeconds:0} seconds", RealtimeErrors.CloseIdle));
        }
    }

    private async Task ReceiveLoopAsync(WebSocket socket, RealtimeSession session, Action active, TaskCompletionSource<SessionEnd?> end)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (!end.Task.IsCompleted)
            {
                var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    // Not cancelled: cancelling a receive aborts the socket, and the close below still needs it.
                    result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        end.TrySetResult(null);
                        return;
                    }
                    message.Write(buffer, 0, result.Count);
                    long limit = result.MessageType == WebSocketMessageType.Text ? MaxTextBytes : options.FrameLimits.MaxBytes;
                    // Counted as the bytes come: a huge frame is refused before it is all in memory.
                    if (message.Length > limit)
                    {
                        end.TrySetResult(new SessionEnd(RealtimeErrors.FrameTooLarge,
                            $"a {(result.MessageType == WebSocketMessageType.Text ? "text message" : "frame")} is over {limit} bytes; send smaller JPEG or WebP frames", RealtimeErrors.CloseTooLarge));
                        return;
                    }
                }
                while (!result.EndOfMessage);
                active();
                long number = session.NextMessage();
                if (result.MessageType == WebSocketMessageType.Text) OnParams(session, number, Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
                else if (OnFrame(session, number, message.ToArray()) is { } breach)
                {
                    end.TrySetResult(breach);
                    return;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            end.TrySetResult(null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void OnParams(RealtimeSession session, long number, string text)
    {
        try
        {
            var parameters = RealtimeParams.Parse(text);
            // Checked now against the engine's rules, so a bad value is answered at once, not at the next frame.
            var probe = parameters.ToRequest(loop.Engine.Capabilities, session.Seed, init: null);
            loop.Engine.Validate(parameters.Mode == RealtimeMode.Image
                ? probe with { InitImage = new RgbImage(new byte[probe.Width * probe.Height * 3], probe.Width, probe.Height), Strength = parameters.Strength }
                : probe);
            session.SetParams(parameters, number, options.TextDebounce, loop.Wake);
        }
        catch (InvalidRequestException e)
        {
            session.Tell(e.Code, e.Message);
        }
    }

    /// <summary>A frame's header checked against the limits; a frame over them ends the session, a broken one is only refused.</summary>
    private SessionEnd? OnFrame(RealtimeSession session, long number, byte[] frame)
    {
        if (session.Params.Mode != RealtimeMode.Image)
        {
            session.Tell(RealtimeErrors.InvalidMessage, "binary frames are for image mode; send params with \"mode\": \"image\" first");
            return null;
        }
        try
        {
            ImageInput.Identify(frame, options.FrameLimits);
        }
        catch (InvalidRequestException e) when (e.Code == Contracts.JobErrorCodes.ImageTooLarge)
        {
            return new SessionEnd(RealtimeErrors.FrameTooLarge, e.Message, RealtimeErrors.CloseTooLarge);
        }
        catch (InvalidRequestException e)
        {
            session.Tell(e.Code, e.Message);
            return null;
        }
        session.Offer(number, frame);
        loop.Wake();
        return null;
    }

    /// <summary>Errors first, then the latest result; a client that does not read holds up only this loop.</summary>
    private static async Task SendLoopAsync(WebSocket socket, RealtimeSession session, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.WhenAny(session.Outputs.WhenFilled(cancellationToken), session.Errors.Reader.WaitToReadAsync(cancellationToken).AsTask());
                while (session.Errors.Reader.TryRead(out var error))
                    await socket.SendAsync(Encoding.UTF8.GetBytes(error), WebSocketMessageType.Text, true, cancellationToken);
                if (session.Outputs.TryTake() is { } output)
                {
                    await socket.SendAsync(Encoding.UTF8.GetBytes(RealtimeMessages.Frame(output.Frame)), WebSocketMessageType.Text, true, cancellationToken);
                    await socket.SendAsync(output.Jpeg, WebSocketMessageType.Binary, true, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The session is ending: its close (or the connection's end) is handled by RunAsync.
        }
    }

    private static async Task CloseAsync(WebSocket socket, SessionEnd end)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived)) return;
        using var timeout = new CancellationTokenSource(CloseWait);
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(RealtimeMessages.Error(end.Code, end.Message)), WebSocketMessageType.Text, true, timeout.Token);
            await socket.CloseOutputAsync((WebSocketCloseStatus)end.CloseCode, end.Code, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            socket.Abort();
        }
    }

    private static async Task CloseOutputAsync(WebSocket socket, WebSocketCloseStatus status, string reason)
    {
        using var timeout = new CancellationTokenSource(CloseWait);
        try
        {
            await socket.CloseOutputAsync(status, reason, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            socket.Abort();
        }
    }
}
