using System.Diagnostics;
using Lcm.Jobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Functions;

/// <summary>
/// Loads the engine and creates missing queues and containers at start, so the first job does not pay for it;
/// says once it has (<see cref="ExecutionProvider"/>), for the health route.
/// </summary>
public sealed class EngineWarmUp(IServiceProvider services, ILogger<EngineWarmUp> logger) : IHostedService
{
    private volatile string? _executionProvider;

    /// <summary>The provider the loaded engine runs on; null until it is loaded.</summary>
    public string? ExecutionProvider => _executionProvider;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var engine = await services.PrepareLcmJobsAsync(cancellationToken);
        logger.LogInformation("Engine ready in {Ms:F0} ms on {Provider}", started.Elapsed.TotalMilliseconds, engine.ExecutionProvider);
        _executionProvider = engine.ExecutionProvider.ToString();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
