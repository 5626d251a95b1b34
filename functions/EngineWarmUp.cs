using System.Diagnostics;
using Lcm.Client;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Functions;

/// <summary>Loads the engine and creates missing queues and containers at start, so the first job does not pay for it.</summary>
internal sealed class EngineWarmUp(IServiceProvider services, ILogger<EngineWarmUp> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        await StorageSetup.EnsureCreatedAsync(services.GetRequiredService<StorageAccount>(), services.GetRequiredService<WorkerSettings>().Names, cancellationToken);
        var engine = await Task.Run(() =>
        {
            var loaded = services.GetRequiredService<LcmEngine>();
            loaded.WarmUpIfConfigured(logger);
            return loaded;
        }, cancellationToken);
        logger.LogInformation("Engine ready in {Ms:F0} ms on {Provider}", started.Elapsed.TotalMilliseconds, engine.ExecutionProvider);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
