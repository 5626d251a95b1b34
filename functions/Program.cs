using Lcm.Client;
using Lcm.Engine.Pipelines;
using Lcm.Functions;
using Lcm.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The host only adapts the core: settings, logging and lifetime. The logic lives in Lcm.Jobs.
var host = new HostBuilder()
    .ConfigureFunctionsWorkerDefaults()
    .ConfigureServices(services =>
    {
        services.AddSingleton(_ => WorkerSettings.FromEnvironment());
        services.AddSingleton(_ => StorageAccount.FromSettings(Environment.GetEnvironmentVariable));
        services.AddSingleton(sp =>
        {
            string modelPath = Environment.GetEnvironmentVariable("LCM_MODEL_PATH") is { Length: > 0 } path ? path
                : throw new InvalidOperationException("LCM_MODEL_PATH is not set: point it at an LCM ONNX model folder");
            return LcmEngine.Load(modelPath, sp.GetRequiredService<WorkerSettings>().Engine, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Lcm.Engine"));
        });
        services.AddSingleton<IImageGenerator>(sp => new JobGenerator(sp.GetRequiredService<LcmEngine>(), sp.GetRequiredService<WorkerSettings>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Lcm.Engine")));
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<WorkerSettings>();
            var account = sp.GetRequiredService<StorageAccount>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Lcm.Jobs");
            var processor = JobProcessor.Create(account, settings.Names, sp.GetRequiredService<IImageGenerator>(), logger, settings.Processor);
            return new QueueTriggerHandler(processor, new JobQueues(account.Queues, settings.Names), logger);
        });
        services.AddSingleton(sp => new JobApi(new LcmJobClient(sp.GetRequiredService<StorageAccount>(),
            new LcmJobClientOptions { Names = sp.GetRequiredService<WorkerSettings>().Names })));
        services.AddHostedService<EngineWarmUp>();
    })
    .Build();

await host.RunAsync();
