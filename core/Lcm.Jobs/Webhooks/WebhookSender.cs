using System.Net;
using System.Net.Sockets;
using System.Text;
using Lcm.Client;

namespace Lcm.Jobs;

/// <summary>The outcome of one delivery: the receiver's status code, or why there was none.</summary>
public sealed record WebhookAttempt(int? StatusCode, string? Error)
{
    public bool Delivered => StatusCode is >= 200 and < 300;
    /// <summary>No answer, or one that says "later" (408, 429, 5xx); other codes are the receiver's final word.</summary>
    public bool Retriable => StatusCode is null or 408 or 429 or >= 500;
}

/// <summary>
/// Posts signed webhook bodies. Connections go only to addresses the <see cref="WebhookPolicy"/>
/// allows, checked when connecting (so a name that resolves elsewhere since the submit check is
/// still caught); redirects are not followed; answers are read up to a cap.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    private readonly WebhookOptions _options;
    private readonly HttpClient _http;
    private readonly TimeProvider _clock;

    public WebhookSender(WebhookOptions options, TimeProvider? clock = null)
    {
        _options = options;
        _clock = clock ?? TimeProvider.System;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectTimeout = options.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            ConnectCallback = ConnectAsync,
        }) { Timeout = options.Timeout };
    }

    public async Task<WebhookAttempt> SendAsync(WebhookMessage message, CancellationToken cancellationToken)
    {
        long timestamp = _clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, message.Url)
        {
            Content = new StringContent(message.Body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(WebhookSignature.IdHeader, message.WebhookId);
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString());
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(message.WebhookId, timestamp, message.Body, _options.Keys));
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            await DrainAsync(response, cancellationToken);
            return new WebhookAttempt((int)response.StatusCode, response.IsSuccessStatusCode ? null : $"the receiver answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return new WebhookAttempt(null, e is TaskCanceledException ? $"no answer within {_options.Timeout.TotalSeconds:F0} s" : e.Message);
        }
    }

    /// <summary>Reads and drops at most MaxResponseBytes of the answer, so a receiver cannot make the worker read without end.</summary>
    private async Task DrainAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[8192];
        for (int read = 0, n; read < _options.MaxResponseBytes && (n = await body.ReadAsync(buffer, cancellationToken)) > 0; read += n)
        {
        }
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        string host = context.DnsEndPoint.Host;
        var allowed = (await WebhookPolicy.ResolveAsync(host, cancellationToken)).Where(_options.Policy.Allows).ToArray();
        if (allowed.Length == 0) throw new HttpRequestException($"webhook host '{host}' resolves only to addresses this service does not call");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _http.Dispose();
}
