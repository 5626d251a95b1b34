using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Lcm.Tests.Realtime;

/// <summary>A test's side of /v1/realtime: sends params and frames, reads messages one at a time.</summary>
public sealed class RealtimeClient(ClientWebSocket socket) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public ClientWebSocket Socket => socket;

    public static async Task<RealtimeClient> ConnectAsync(Uri uri, string? bearer = null)
    {
        var socket = new ClientWebSocket();
        if (bearer is not null) socket.Options.SetRequestHeader("Authorization", $"Bearer {bearer}");
        await socket.ConnectAsync(uri, CancellationToken.None);
        return new RealtimeClient(socket);
    }

    public Task SendAsync(object message) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message as string ?? JsonSerializer.Serialize(message)), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SendFrameAsync(byte[] frame) => socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>The next message: text as JSON, binary as bytes; null once the server has closed.</summary>
    public async Task<(JsonElement? Json, byte[]? Bytes)?> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(Wait);
        var message = new MemoryStream();
        var buffer = new byte[64 * 1024];
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        return result.MessageType == WebSocketMessageType.Text ? (JsonDocument.Parse(message.ToArray()).RootElement.Clone(), null) : (null, message.ToArray());
    }

    public async Task<JsonElement> ReceiveJsonAsync(string type)
    {
        var message = await ReceiveAsync() ?? throw new Xunit.Sdk.XunitException($"the server closed ({socket.CloseStatus} {socket.CloseStatusDescription}) before a {type} message");
        Assert.True(message.Json is { } json && json.GetProperty("type").GetString() == type, $"expected a {type} message, got {message.Json?.ToString() ?? $"{message.Bytes!.Length} bytes"}");
        return message.Json!.Value;
    }

    /// <summary>The next result: its frame message and its JPEG, after any error messages (returned too).</summary>
    public async Task<(JsonElement Frame, byte[] Jpeg)> ReceiveFrameAsync()
    {
        while (true)
        {
            var message = await ReceiveAsync() ?? throw new Xunit.Sdk.XunitException($"the server closed ({socket.CloseStatus} {socket.CloseStatusDescription}) before a frame");
            if (message.Json is not { } json) throw new Xunit.Sdk.XunitException("a JPEG came without its frame message");
            if (json.GetProperty("type").GetString() == "error") throw new Xunit.Sdk.XunitException($"error: {json}");
            if (json.GetProperty("type").GetString() != "frame") continue;
            var jpeg = await ReceiveAsync();
            Assert.NotNull(jpeg?.Bytes);
            return (json, jpeg.Value.Bytes!);
        }
    }

    /// <summary>An error message with <paramref name="code"/>, then the close with <paramref name="closeCode"/>.</summary>
    public async Task AssertClosedWithAsync(string code, int closeCode)
    {
        var error = await ReceiveJsonAsync("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Null(await ReceiveAsync());
        Assert.Equal(closeCode, (int)socket.CloseStatus!);
        // As a browser does: the close is answered, so the server ends the session at once.
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
    }

    public void Dispose() => socket.Dispose();
}
