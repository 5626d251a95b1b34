using System.Diagnostics;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The one composition of the job service, for the function app, <c>lcm worker</c> and the tests.
/// The model path is the host's to decide (the function app requires LCM_MODEL_PATH, the CLI falls
/// back to a built-in model). A test replaces a registration (the engine, the generator) after this.
/// </summary>
public static class JobsServices
{
    public const string JobsCategory = "Lcm.Jobs";
    public const string EngineCategory = "Lcm.Engine";

    /// <summary>
    /// Storage (from the AzureWebJobsStorage settings unless <paramref name="account"/> is given), the engine, the generator
    /// stack, the processor, and the telemetry exporters the environment names (<see cref="TelemetryExporters"/>).
    /// </summary>
    public static IServiceCollection AddLcmJobs(this IServiceCollection services, WorkerSettings settings, string modelPath, StorageAccount? account = null)
    {
        services.AddLcmTelemetry(Environment.GetEnvironmentVariable);
        services.AddSingleton(settings);
        services.AddSingleton(settings.Names);
        if (account is null) services.AddSingleton(_ => StorageAccount.FromSettings(Environment.GetEnvironmentVariable));
        else services.AddSingleton(account);
        services.AddSingleton(sp =>
        {
            var logger = sp.Logger(EngineCategory);
            long start = Stopwatch.GetTimestamp();
            var engine = LcmEngine.Load(modelPath, settings.Engine, logger);
            engine.WarmUpIfConfigured(logger);
            LcmTelemetry.ColdStart.Record(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            return engine;
        });
        services.AddSingleton<IImageGenerator>(sp => new JobGenerator(sp.GetRequiredService<LcmEngine>(), settings, sp.Logger(EngineCategory)));
        services.AddSingleton(sp => new JobQueues(sp.GetRequiredService<StorageAccount>(), settings.Names));
        services.AddSingleton(sp => JobProcessor.Create(sp.GetRequiredService<StorageAccount>(), settings.Names,
            sp.GetRequiredService<IImageGenerator>(), sp.Logger(JobsCategory), settings.Processor));
        services.AddSingleton(sp => sp.GetRequiredService<JobProcessor>().WebhookDispatcher);
        return services;
    }

    /// <summary>
    /// The local queue worker (and the request poller and the health endpoint, when configured) over
    /// <see cref="AddLcmJobs"/>; <paramref name="onReady"/> is called once jobs can run.
    /// </summary>
    public static IServiceCollection AddLcmWorker(this IServiceCollection services, Action? onReady = null)
    {
        // Before the worker: it answers (503, starting) while the engine loads.
        services.AddHostedService(sp => new HealthEndpoint(sp.GetRequiredService<WorkerSettings>(), () => sp.GetRequiredService<LocalWorker>().Readiness, sp.Logger(JobsCategory)));
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<WorkerSettings>();
            // A batch fills only if the worker holds that many jobs, and the next one forms while it runs.
            int batch = settings.Batching.MaxImages;
            var queue = settings.Queue with { BatchSize = Math.Max(settings.Queue.BatchSize, batch), NewBatchThreshold = Math.Max(settings.Queue.NewBatchThreshold, batch) };
            return new QueueWorker(sp.GetRequiredService<JobProcessor>(), sp.GetRequiredService<JobQueues>(), queue, settings.MessageLease, settings.ShutdownGrace, sp.Logger(JobsCategory));
        });
        services.AddSingleton(sp => new RequestBlobPoller(sp.GetRequiredService<StorageAccount>().Blobs.GetBlobContainerClient(StorageNames.RequestsContainer),
            sp.GetRequiredService<JobQueues>(), sp.Logger(JobsCategory)));
        services.AddSingleton(sp => new WebhookQueueWorker(sp.GetRequiredService<WebhookDispatcher>(),
            sp.GetRequiredService<JobQueues>().Queue(sp.GetRequiredService<StorageNames>().WebhooksQueue), sp.GetRequiredService<WorkerSettings>().Queue, sp.Logger(JobsCategory)));
        services.AddSingleton(sp => new LocalWorker(sp, sp.GetRequiredService<WorkerSettings>(), sp.Logger(JobsCategory), onReady));
        services.AddHostedService(sp => sp.GetRequiredService<LocalWorker>());
        return services;
    }

    /// <summary>What must hold before the first message is taken: the queues and containers exist and the engine is loaded (and warmed up).</summary>
    public static async Task<LcmEngine> PrepareLcmJobsAsync(this IServiceProvider services, CancellationToken cancellationToken)
    {
        await StorageSetup.EnsureCreatedAsync(services.GetRequiredService<StorageAccount>(), services.GetRequiredService<StorageNames>(), cancellationToken);
        // Loading takes seconds (minutes on a big model): not on the host's thread.
        return await Task.Run(services.GetRequiredService<LcmEngine>, cancellationToken);
    }

    /// <summary>
    /// Runs a host built with <see cref="AddLcmWorker"/> until the token is canceled. A worker loop that
    /// failed fails this call: the host (before .NET 11) only logs it and stops.
    /// </summary>
    public static async Task RunLcmWorkerAsync(this IHost host, CancellationToken cancellationToken)
    {
        var worker = host.Services.GetRequiredService<LocalWorker>();
        await host.RunAsync(cancellationToken);
        await (worker.ExecuteTask ?? Task.CompletedTask);
    }

    private static ILogger Logger(this IServiceProvider services, string category) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger(category);
}
