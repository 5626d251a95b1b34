using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// <c>lcm worker</c>'s probes over plain HTTP/1.1 on a socket (no web stack in the worker; not
/// HttpListener either, whose start throws when a probe connects while it binds). <c>/healthz</c>
/// answers 200 while the process lives; <c>/readyz</c> 200 while the worker takes messages and 503 with
/// the reason while it cannot (starting, storage unreachable, stopping). Started before the worker,
/// so it answers while the engine loads; stopped after it, so it says "stopping" while jobs finish.
/// Off unless a port is configured (LCM_HEALTH_PORT, <c>--health-port</c>).
/// </summary>
internal sealed class HealthEndpoint(WorkerSettings settings, Func<WorkerReadiness> readiness, ILogger logger) : IHostedService
{
    private const int MaxRequestBytes = 8192;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private TcpListener? _listener;
    private readonly CancellationTokenSource _stopping = new();
    private Task _serving = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.HealthPort is not int port) return Task.CompletedTask;
        _listener = new TcpListener(ListenAddress(settings.HealthAddress), port);
        if (_listener.LocalEndpoint.AddressFamily == AddressFamily.InterNetworkV6) _listener.Server.DualMode = true;
        _listener.Start();
        logger.LogInformation("Health endpoint on http://{Address}:{Port}/healthz and /readyz", settings.HealthAddress, port);
        _serving = ServeAsync(_listener);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null) return;
        _stopping.Cancel();
        _listener.Stop();
        await _serving;
    }

    private static IPAddress ListenAddress(string address) => address switch
    {
        "*" or "+" => IPAddress.IPv6Any,
        "localhost" => IPAddress.Loopback,
        _ => IPAddress.TryParse(address, out var ip) ? ip : Dns.GetHostAddresses(address)[0],
    };

    private async Task ServeAsync(TcpListener listener)
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(_stopping.Token);
            }
            // Once stopping, whatever the stopped listener throws (an accept begun after Stop says "Not listening") ends the loop.
            catch (Exception e) when (_stopping.IsCancellationRequested || e is SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                timeout.CancelAfter(RequestTimeout);
                var stream = client.GetStream();
                string? requestLine = await ReadRequestHeadAsync(stream, timeout.Token);
                var (code, body, head) = Route(requestLine);
                byte[] json = JsonSerializer.SerializeToUtf8Bytes(body);
                string header = $"HTTP/1.1 {code} {ReasonPhrase(code)}\r\nContent-Type: application/json; charset=utf-8\r\n" +
                                $"Content-Length: {json.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(header), timeout.Token);
                if (!head) await stream.WriteAsync(json, timeout.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The prober hung up or stalled; the next one gets an answer.
            }
        }
    }

    /// <summary>The request line once the whole head has arrived; null when it is too long or malformed.</summary>
    private static async Task<string?> ReadRequestHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new byte[MaxRequestBytes];
        int length = 0;
        while (length < head.Length)
        {
            int read = await stream.ReadAsync(head.AsMemory(length), cancellationToken);
            if (read == 0) return null;
            length += read;
            var text = Encoding.ASCII.GetString(head, 0, length);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal)) return text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
        }
        return null;
    }

    private (int Code, object Body, bool Head) Route(string? requestLine)
    {
        var parts = requestLine?.Split(' ') ?? [];
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return (400, new { error = "bad_request" }, false);
        string method = parts[0];
        string path = parts[1].Split('?')[0];
        bool head = method == "HEAD";
        return (method, path) switch
        {
            ("GET" or "HEAD", "/healthz") => (200, new { status = "alive" }, head),
            ("GET" or "HEAD", "/readyz") => Readiness(head),
            ("GET" or "HEAD", _) => (404, new { error = "not_found", paths = new[] { "/healthz", "/readyz" } }, head),
            _ => (405, new { error = "method_not_allowed" }, false),
        };
    }

    private (int, object, bool) Readiness(bool head)
    {
        var r = readiness();
        return (r.IsReady ? 200 : 503, new { ready = r.IsReady, state = r.State, detail = r.Detail }, head);
    }

    private static string ReasonPhrase(int code) => code switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
}
