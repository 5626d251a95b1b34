using System.Diagnostics;
using Lcm.Jobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Functions;

/// <summary>Loads the engine and creates missing queues and containers at start, so the first job does not pay for it.</summary>
internal sealed class EngineWarmUp(IServiceProvider services, ILogger<EngineWarmUp> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var engine = await services.PrepareLcmJobsAsync(cancellationToken);
        logger.LogInformation("Engine ready in {Ms:F0} ms on {Provider}", started.Elapsed.TotalMilliseconds, engine.ExecutionProvider);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
