using Lcm.Functions;
using Lcm.Jobs;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The host only adapts the core: settings, logging and lifetime. The logic lives in Lcm.Jobs.
string modelPath = Environment.GetEnvironmentVariable("LCM_MODEL_PATH") is { Length: > 0 } path ? path
    : throw new InvalidOperationException("LCM_MODEL_PATH is not set: point it at an LCM ONNX model folder");
var host = new HostBuilder()
    .ConfigureFunctionsWorkerDefaults()
    .ConfigureServices(services =>
    {
        services.AddLcmFunctions(WorkerSettings.FromEnvironment(), modelPath);
        // The host's invocation spans and the trace context it hands over join the service's own (AddLcmJobs registered the exporters).
        if (TelemetryExporters.IsConfigured(Environment.GetEnvironmentVariable)) services.AddOpenTelemetry().UseFunctionsWorkerDefaults();
    })
    .Build();

await host.RunAsync();
