using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// <c>lcm worker</c>'s probes over plain HTTP (HttpListener: no web stack in the worker). <c>/healthz</c>
/// answers 200 while the process lives; <c>/readyz</c> 200 while the worker takes messages and 503 with
/// the reason while it cannot (starting, storage unreachable, stopping). Started before the worker,
/// so it answers while the engine loads; stopped after it, so it says "stopping" while jobs finish.
/// Off unless a port is configured (LCM_HEALTH_PORT, <c>--health-port</c>).
/// </summary>
internal sealed class HealthEndpoint(WorkerSettings settings, Func<WorkerReadiness> readiness, ILogger logger) : IHostedService
{
    private readonly HttpListener _listener = new();
    private Task _serving = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.HealthPort is not int port) return Task.CompletedTask;
        string prefix = $"http://{settings.HealthAddress}:{port}/";
        _listener.Prefixes.Add(prefix);
        _listener.Start();
        logger.LogInformation("Health endpoint on {Prefix}healthz and {Prefix}readyz", prefix, prefix);
        _serving = ServeAsync();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _listener.Close();
        await _serving;
    }

    private async Task ServeAsync()
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // closed at stop
            }
            try
            {
                await AnswerAsync(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
                // The prober hung up; the next one gets an answer.
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var (code, body) = (context.Request.HttpMethod, context.Request.Url?.AbsolutePath) switch
        {
            ("GET" or "HEAD", "/healthz") => (200, (object)new { status = "alive" }),
            ("GET" or "HEAD", "/readyz") => readiness() is var r
                ? (r.IsReady ? 200 : 503, new { ready = r.IsReady, state = r.State, detail = r.Detail })
                : default,
            ("GET" or "HEAD", _) => (404, new { error = "not_found", paths = new[] { "/healthz", "/readyz" } }),
            _ => (405, new { error = "method_not_allowed" }),
        };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(body);
        var response = context.Response;
        response.StatusCode = code;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength64 = json.Length;
        if (context.Request.HttpMethod != "HEAD") await response.OutputStream.WriteAsync(json);
        response.Close();
    }
}
