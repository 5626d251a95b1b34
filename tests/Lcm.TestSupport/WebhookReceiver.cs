using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Lcm.Tests.Service;

/// <summary>A webhook receiver on a loopback port: records every request and answers each in turn with the next of <see cref="Answers"/> (then 200).</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<(string? WebhookId, Func<HttpListenerResponse, Task> Answer)> _answers = [];
    private readonly Task _loop;

    public WebhookReceiver()
    {
        // HttpListener cannot pick a free port itself: take one from the OS and hand it over.
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; }
    public string Url(string path = "hook") => $"http://127.0.0.1:{Port}/{path}";
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>
    /// Answers the next request (of <paramref name="webhookId"/>, when given: deliveries run in parallel and
    /// arrive in any order) with <paramref name="status"/> and <paramref name="headers"/>, after <paramref name="delay"/>.
    /// </summary>
    public void Then(int status, TimeSpan? delay = null, string? webhookId = null, params (string Name, string Value)[] headers)
    {
        lock (_answers)
            _answers.Add((webhookId, async response =>
            {
                if (delay is { } wait) await Task.Delay(wait);
                response.StatusCode = status;
                foreach (var (name, value) in headers) response.Headers[name] = value;
            }));
    }

    private Func<HttpListenerResponse, Task>? NextAnswer(string? webhookId)
    {
        lock (_answers)
        {
            int at = _answers.FindIndex(a => a.WebhookId is null || a.WebhookId == webhookId);
            if (at < 0) return null;
            var answer = _answers[at].Answer;
            _answers.RemoveAt(at);
            return answer;
        }
    }

    /// <summary>Waits until <paramref name="count"/> requests have arrived.</summary>
    public async Task<ReceivedWebhook[]> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (Received.Count < count) await Task.Delay(50, deadline.Token);
        return [.. Received];
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            // Each request in its own task: a receiver that hangs on one still takes the next.
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream);
        string body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.AllKeys.OfType<string>().ToDictionary(k => k.ToLowerInvariant(), k => context.Request.Headers[k]!);
        // The answer is taken in arrival order, before the request shows as received.
        var answer = NextAnswer(headers.GetValueOrDefault("webhook-id"));
        Received.Enqueue(new ReceivedWebhook(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, headers, body, DateTimeOffset.UtcNow));
        try
        {
            if (answer is not null) await answer(context.Response);
            else context.Response.StatusCode = 200;
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
        {
            // The sender gave up waiting (a timeout test), or the receiver is closing.
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}

public sealed record ReceivedWebhook(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset At);
