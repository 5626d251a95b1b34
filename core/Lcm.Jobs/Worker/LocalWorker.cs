using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The job service outside the Functions host (<c>lcm worker</c>), registered by
/// <see cref="JobsServices.AddLcmWorker"/>. It prepares storage and the engine while the host
/// starts, so no message is taken before a job can run; then it serves the jobs queue until the
/// host stops, letting running jobs finish within the shutdown grace and handing back the rest.
/// </summary>
internal sealed class LocalWorker(IServiceProvider services, WorkerSettings settings, ILogger logger, Action? onReady) : BackgroundService
{
    private volatile bool _started;
    private volatile bool _stopping;

    public WorkerReadiness Readiness =>
        _stopping ? new WorkerReadiness(WorkerReadiness.Stopping, "taking no more messages; running jobs finish or are handed back")
        : !_started ? new WorkerReadiness(WorkerReadiness.Starting, "preparing storage and loading the engine")
        : services.GetRequiredService<QueueWorker>().Outage is { } outage ? new WorkerReadiness(WorkerReadiness.StorageUnreachable, outage)
        : new WorkerReadiness(WorkerReadiness.Receiving);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var engine = await services.PrepareLcmJobsAsync(cancellationToken);
        logger.LogInformation("Worker ready in {Ms:F0} ms on {Provider}; listening on queue {Queue}",
            started.Elapsed.TotalMilliseconds, engine.ExecutionProvider, settings.Names.JobsQueue);
        _started = true;
        onReady?.Invoke();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var worker = services.GetRequiredService<QueueWorker>();
        var poller = settings.RequestPollInterval is { } interval
            ? services.GetRequiredService<RequestBlobPoller>().RunAsync(interval, stoppingToken)
            : Task.CompletedTask;
        await Task.WhenAll(worker.RunAsync(stoppingToken), poller, services.GetRequiredService<WebhookQueueWorker>().RunAsync(stoppingToken));
        logger.LogInformation("Worker stopped");
    }

    /// <summary>
    /// Waits for the running jobs to finish or be handed back however long the host's shutdown timeout is:
    /// giving up early would dispose the engine under a job, and its message would wait out its lease.
    /// </summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        return base.StopAsync(CancellationToken.None);
    }
}
