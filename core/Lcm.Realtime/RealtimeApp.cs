using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lcm.Realtime;

/// <summary>
/// The real-time server, composed once for every host (the container's, <c>lcm serve</c>, the tests):
/// the engine loaded once, its loop, <c>/</c> (the page), <c>/v1/realtime</c> and <c>/healthz</c>.
/// </summary>
public static class RealtimeApp
{
    public static WebApplication Build(string modelPath, string url, RealtimeOptions options, EngineOptions engineOptions, ILoggerFactory? logging = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        // The request lines carry the query, and ?access_token= is a credential. A host with its own logging
        // (lcm serve's, to stderr) passes it in, filtered the same.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        if (logging is not null) builder.Services.AddSingleton(logging);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(services => LcmEngine.Load(modelPath, engineOptions, services.GetRequiredService<ILoggerFactory>().CreateLogger("lcm")));
        builder.Services.AddSingleton<RealtimeEngineLoop>();
        builder.Services.AddHostedService(services => services.GetRequiredService<RealtimeEngineLoop>());
        builder.Services.AddSingleton<RealtimeEndpoint>();

        var app = builder.Build();
        // Pings keep proxies (Container Apps' ingress among them) from dropping a session that only receives.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        app.MapGet("/", () => Results.Stream(RealtimePage.Open(), "text/html; charset=utf-8"));
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.Map("/v1/realtime", (HttpContext context, RealtimeEndpoint endpoint) => endpoint.HandleAsync(context));
        return app;
    }
}

/// <summary>The one static page, embedded in the assembly so the hosts need no content folder.</summary>
internal static class RealtimePage
{
    public static Stream Open() => typeof(RealtimePage).Assembly.GetManifestResourceStream("index.html")
        ?? throw new InvalidOperationException("the page index.html is not embedded in Lcm.Realtime");
}
