using System.Diagnostics;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The job service outside the Functions host (<c>lcm worker</c>): creates what storage lacks, loads
/// the engine, and only then takes messages, until the token is canceled.
/// </summary>
public static class LocalWorker
{
    public static async Task RunAsync(StorageAccount account, WorkerSettings settings, string modelPath, ILogger logger,
        CancellationToken stoppingToken, Action? onReady = null)
    {
        var started = Stopwatch.StartNew();
        await StorageSetup.EnsureCreatedAsync(account, settings.Names, stoppingToken);
        using var engine = await Task.Run(() =>
        {
            var loaded = LcmEngine.Load(modelPath, settings.Engine, logger);
            loaded.WarmUpIfConfigured(logger);
            return loaded;
        }, stoppingToken);
        logger.LogInformation("Worker ready in {Ms:F0} ms on {Provider}; listening on queue {Queue}",
            started.Elapsed.TotalMilliseconds, engine.ExecutionProvider, settings.Names.JobsQueue);
        onReady?.Invoke();
        await using var generator = new JobGenerator(engine, settings, logger);
        var processor = JobProcessor.Create(account, settings.Names, generator, logger, settings.Processor);
        // A batch fills only if the worker holds that many jobs, and the next one forms while it runs.
        int batch = settings.Batching.MaxImages;
        var queue = settings.Queue with { BatchSize = Math.Max(settings.Queue.BatchSize, batch), NewBatchThreshold = Math.Max(settings.Queue.NewBatchThreshold, batch) };
        var queues = new JobQueues(account.Queues, settings.Names);
        var worker = new QueueWorker(processor, queues, queue, settings.MessageLease, logger);
        var poller = settings.RequestPollInterval is { } interval
            ? new RequestBlobPoller(account.Blobs.GetBlobContainerClient(StorageNames.RequestsContainer), queues, logger).RunAsync(interval, stoppingToken)
            : Task.CompletedTask;
        await Task.WhenAll(worker.RunAsync(stoppingToken), poller);
        logger.LogInformation("Worker stopped");
    }
}
