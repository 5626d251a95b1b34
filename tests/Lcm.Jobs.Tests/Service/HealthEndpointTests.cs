using System.Net.Sockets;
using Lcm.Cli;
using Lcm.Jobs;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// The worker's probe endpoint on its own: answers, refusals, restarts while probes knock. (HttpListener, used before,
/// threw from Start when a probe connected inside its constructor; that window is too narrow to hit on purpose.)
/// </summary>
public sealed class HealthEndpointTests
{
    [Fact]
    public async Task It_answers_liveness_readiness_and_refuses_other_paths_methods_and_garbage()
    {
        int port = Azurite.FreePort();
        var state = new WorkerReadiness(WorkerReadiness.Starting);
        var endpoint = new HealthEndpoint(new WorkerSettings { HealthPort = port }, () => state, NullLogger.Instance);
        await endpoint.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal(200, (await HealthProbe.GetAsync(port, "/healthz")).Code);
            var (code, body) = await HealthProbe.GetAsync(port, "/readyz");
            Assert.Equal((503, "starting"), (code, body.GetProperty("state").GetString()));
            state = new WorkerReadiness(WorkerReadiness.Receiving);
            Assert.Equal(200, (await HealthProbe.GetAsync(port, "/readyz?verbose=1")).Code);
            Assert.Equal(404, (await HealthProbe.GetAsync(port, "/metrics")).Code);
            Assert.StartsWith("HTTP/1.1 405 ", await RawAsync(port, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
            Assert.StartsWith("HTTP/1.1 400 ", await RawAsync(port, "hello\r\n\r\n"));
            string head = await RawAsync(port, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200 ", head);
            Assert.EndsWith("\r\n\r\n", head);
        }
        finally
        {
            await endpoint.StopAsync(CancellationToken.None);
        }
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => HealthProbe.GetAsync(port, "/healthz"));
    }

    [Fact]
    public async Task It_starts_and_stops_on_its_port_while_probes_knock_and_a_stalled_probe_does_not_block_the_next()
    {
        int port = Azurite.FreePort();
        using var knocking = new CancellationTokenSource();
        var knocker = Task.Run(async () =>
        {
            while (!knocking.IsCancellationRequested)
            {
                using var socket = new TcpClient();
                try { await socket.ConnectAsync("127.0.0.1", port, knocking.Token); }
                catch (Exception e) when (e is SocketException or OperationCanceledException) { }
            }
        });
        var endpoint = new HealthEndpoint(new WorkerSettings { HealthPort = port }, () => new WorkerReadiness(WorkerReadiness.Receiving), NullLogger.Instance);
        for (int i = 0; i < 20; i++)
        {
            await endpoint.StartAsync(CancellationToken.None);
            await endpoint.StopAsync(CancellationToken.None);
            endpoint = new HealthEndpoint(new WorkerSettings { HealthPort = port }, () => new WorkerReadiness(WorkerReadiness.Receiving), NullLogger.Instance);
        }
        await endpoint.StartAsync(CancellationToken.None);
        knocking.Cancel();
        await knocker;
        try
        {
            using var stalled = new TcpClient();
            await stalled.ConnectAsync("127.0.0.1", port);
            await stalled.GetStream().WriteAsync("GET /healthz HTTP/1.1\r\n"u8.ToArray()); // and never the end of the head
            Assert.Equal(200, (await HealthProbe.GetAsync(port, "/readyz")).Code);
        }
        finally
        {
            await endpoint.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<string> RawAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }
}
