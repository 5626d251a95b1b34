using Lcm.Client;
using Lcm.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lcm.Functions;

/// <summary>The function app's services: the job service and what the triggers and HTTP routes call.</summary>
public static class FunctionsServices
{
    public static IServiceCollection AddLcmFunctions(this IServiceCollection services, WorkerSettings settings, string modelPath, StorageAccount? account = null)
    {
        services.AddLcmJobs(settings, modelPath, account);
        services.AddSingleton(sp => new QueueTriggerHandler(sp.GetRequiredService<JobProcessor>(), sp.GetRequiredService<JobQueues>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(JobsServices.JobsCategory)));
        services.AddSingleton(sp => new JobApi(new LcmJobClient(sp.GetRequiredService<StorageAccount>(), new LcmJobClientOptions { Names = settings.Names, Webhooks = settings.Processor.Webhooks.Policy }),
            CallerIdentity.FromEnvironment(Environment.GetEnvironmentVariable), settings.Processor.InputLimits, settings.Processor.Video));
        services.AddSingleton<EngineWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<EngineWarmUp>());
        services.AddSingleton(sp => new HealthApi(sp.GetRequiredService<EngineWarmUp>(), sp.GetRequiredService<JobQueues>()));
        return services;
    }
}
