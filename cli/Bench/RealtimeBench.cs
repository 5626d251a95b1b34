using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Lcm.Realtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Lcm.Cli;

/// <summary>
/// The real-time server on a loopback port, driven by clients that each send a camera frame, wait for its
/// picture and send the next (one frame in flight per client, so a latency is a frame's whole trip and
/// frames per second is what the server sustains): frames/s and latency p50/p95 for each size, client
/// count and decoder, with the server's own split of a frame's time.
/// </summary>
internal static class RealtimeBench
{
    private static readonly int[] ClientCounts = [1, 4];

    public sealed record Figures(int Size, int Clients, string Decoder, int Frames, double FramesPerSecond, double LatencyP50Ms, double LatencyP95Ms,
        double GenerateP50Ms, double EncodeP50Ms, double QueuedP50Ms, double MeanBatch);

    private sealed record Sample(double LatencyMs, double GenerateMs, double EncodeMs, double QueuedMs, int Batch);

    public static async Task<object> RunAsync(string model, IReadOnlyList<int> sizes, TimeSpan duration, int minFrames, ConsoleProgress progress)
    {
        // No fps cap, and room for every client while the last configuration's sessions still close:
        // the bench measures the engine, not the limits.
        var options = new RealtimeOptions { MaxFps = 240, MaxSessions = 4 * ClientCounts.Max() };
        await using var app = RealtimeApp.Build(model, "http://127.0.0.1:0", options, EngineSettings.ReadEngine(), CliModel.Logging);
        await app.StartAsync();
        var socket = new Uri(app.Urls.First().Replace("http://", "ws://") + "/v1/realtime");
        string[] decoders = app.Services.GetRequiredService<LcmEngine>().Capabilities.SupportsTinyDecoder ? ["tiny", "full"] : ["full"];

        var rows = new List<Figures>();
        var configs = (from size in sizes from decoder in decoders from clients in ClientCounts select (size, decoder, clients)).ToArray();
        for (int i = 0; i < configs.Length; i++)
        {
            var (size, decoder, clients) = configs[i];
            progress.Report(i, configs.Length, $"realtime {size}x{size}, {decoder} decoder, {clients} client(s)");
            var row = await MeasureAsync(socket, size, decoder, clients, duration, minFrames);
            rows.Add(row);
            progress.Line($"realtime {size}x{size}, {decoder} decoder, {clients} client(s): {row.FramesPerSecond:F1} frames/s, latency p50 {row.LatencyP50Ms:F0} ms, "
                + $"p95 {row.LatencyP95Ms:F0} ms (server: generate {row.GenerateP50Ms:F0} ms, JPEG {row.EncodeP50Ms:F0} ms, queued {row.QueuedP50Ms:F0} ms, "
                + $"batch {row.MeanBatch:F1}; {row.Frames} frames)");
        }
        await app.StopAsync();
        return new { steps = 1, strength = 0.5, seconds = duration.TotalSeconds, rows };
    }

    private static async Task<Figures> MeasureAsync(Uri socket, int size, string decoder, int clients, TimeSpan duration, int minFrames)
    {
        var frames = Enumerable.Range(0, 8).Select(variant => CameraFrame(size, variant)).ToArray();
        var sessions = new List<Session>();
        for (int c = 0; c < clients; c++) sessions.Add(await Session.OpenAsync(socket, size, decoder, seed: c));
        // Each session's first frame sizes ONNX Runtime's buffers for this shape: not counted.
        await Task.WhenAll(sessions.Select(s => s.RoundTripAsync(frames[0])));

        var clock = Stopwatch.StartNew();
        int total = 0;
        var runs = sessions.Select(async session =>
        {
            var samples = new List<Sample>();
            for (int n = 1; clock.Elapsed < duration || Volatile.Read(ref total) < minFrames; n++)
            {
                samples.Add(await session.RoundTripAsync(frames[n % frames.Length]));
                Interlocked.Increment(ref total);
            }
            return samples;
        }).ToArray();
        var all = (await Task.WhenAll(runs)).SelectMany(s => s).ToArray();
        double seconds = clock.Elapsed.TotalSeconds;
        foreach (var session in sessions) await session.CloseAsync();

        double P(Func<Sample, double> figure, double quantile) => Quantile(all.Select(figure), quantile);
        return new Figures(size, clients, decoder, all.Length, all.Length / seconds, P(s => s.LatencyMs, 0.5), P(s => s.LatencyMs, 0.95),
            P(s => s.GenerateMs, 0.5), P(s => s.EncodeMs, 0.5), P(s => s.QueuedMs, 0.5), all.Average(s => s.Batch));
    }

    /// <summary>The nearest-rank quantile, which a handful of frames still gives honestly.</summary>
    private static double Quantile(IEnumerable<double> values, double quantile)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>A gradient with a bar that moves with <paramref name="variant"/>, as a moving camera picture would.</summary>
    private static byte[] CameraFrame(int size, int variant)
    {
        var rgb = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                bool bar = Math.Abs(x - size * (variant + 1) / 10) < size / 12;
                int p = (y * size + x) * 3;
                (rgb[p], rgb[p + 1], rgb[p + 2]) = bar ? ((byte)230, (byte)60, (byte)40) : ((byte)(255 * x / size), (byte)(255 * y / size), (byte)120);
            }
        return ImageEncoder.Encode(new GeneratedImage(rgb, size, size, 0), OutputFormat.Jpeg, 90);
    }

    private sealed class Session(ClientWebSocket socket)
    {
        private static readonly TimeSpan Wait = TimeSpan.FromMinutes(10);
        private readonly byte[] _buffer = new byte[1 << 20];

        public static async Task<Session> OpenAsync(Uri uri, int size, string decoder, int seed)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(uri, CancellationToken.None);
            var session = new Session(socket);
            using (var ready = await session.ReceiveJsonAsync())
                if (ready.RootElement.GetProperty("type").GetString() != "ready") throw new InvalidOperationException($"the real-time server refused a session: {ready.RootElement}");
            string parameters = JsonSerializer.Serialize(new { type = "params", prompt = "a watercolour portrait", mode = "image", steps = 1, strength = 0.5, seed, width = size, height = size, decoder });
            await socket.SendAsync(Encoding.UTF8.GetBytes(parameters), WebSocketMessageType.Text, true, CancellationToken.None);
            return session;
        }

        public async Task<Sample> RoundTripAsync(byte[] frame)
        {
            long sent = Stopwatch.GetTimestamp();
            await socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);
            while (true)
            {
                using var message = await ReceiveJsonAsync();
                var root = message.RootElement;
                string type = root.GetProperty("type").GetString()!;
                if (type == "error") throw new InvalidOperationException($"the real-time server answered an error: {root}");
                if (type != "frame") continue;
                // Read before the picture arrives: the message is parsed over the receive buffer.
                var (generate, encode, queued, batch) = (root.GetProperty("generateMs").GetDouble(), root.GetProperty("encodeMs").GetDouble(),
                    root.GetProperty("queuedMs").GetDouble(), root.GetProperty("batch").GetInt32());
                await ReceiveAsync();
                return new Sample(Stopwatch.GetElapsedTime(sent).TotalMilliseconds, generate, encode, queued, batch);
            }
        }

        public async Task CloseAsync()
        {
            try
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bench done", CancellationToken.None);
            }
            catch (WebSocketException)
            {
                // A close the server cut short ends the session all the same, and no figure depends on it.
            }
        }

        private async Task<JsonDocument> ReceiveJsonAsync() => JsonDocument.Parse(await ReceiveAsync());

        private async Task<ReadOnlyMemory<byte>> ReceiveAsync()
        {
            using var timeout = new CancellationTokenSource(Wait);
            int length = 0;
            while (true)
            {
                if (length == _buffer.Length) throw new InvalidOperationException("a real-time message larger than the bench's 1 MB buffer");
                var result = await socket.ReceiveAsync(_buffer.AsMemory(length), timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"the real-time server closed the session: {socket.CloseStatus} {socket.CloseStatusDescription}");
                length += result.Count;
                if (result.EndOfMessage) return _buffer.AsMemory(0, length);
            }
        }
    }
}
