using Azure.Monitor.OpenTelemetry.Exporter;
using Lcm.Contracts;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Lcm.Jobs;

/// <summary>
/// Where the service's traces and metrics (<see cref="LcmTelemetry"/>) go: Azure Monitor with
/// APPLICATIONINSIGHTS_CONNECTION_STRING, OTLP with OTEL_EXPORTER_OTLP_ENDPOINT (the exporter reads its
/// other OTEL_EXPORTER_OTLP_* settings itself), both with both, and nowhere, at no cost, with neither.
/// </summary>
public static class TelemetryExporters
{
    public const string AzureMonitorSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string OtlpSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Whether the settings name an exporter, so that OpenTelemetry is registered at all.</summary>
    public static bool IsConfigured(Func<string, string?> read) => read(AzureMonitorSetting) is { Length: > 0 } || read(OtlpSetting) is { Length: > 0 };

    /// <summary>Registers OpenTelemetry with the exporters the settings name; nothing when they name none.</summary>
    public static IServiceCollection AddLcmTelemetry(this IServiceCollection services, Func<string, string?> read)
    {
        if (!IsConfigured(read)) return services;
        string? azureMonitor = read(AzureMonitorSetting) is { Length: > 0 } connection ? connection : null;
        bool otlp = read(OtlpSetting) is { Length: > 0 };
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(LcmTelemetry.Name))
            .WithTracing(tracing =>
            {
                tracing.AddSource(LcmTelemetry.Name);
                if (azureMonitor is not null) tracing.AddAzureMonitorTraceExporter(o => o.ConnectionString = azureMonitor);
                if (otlp) tracing.AddOtlpExporter();
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(LcmTelemetry.Name);
                if (azureMonitor is not null) metrics.AddAzureMonitorMetricExporter(o => o.ConnectionString = azureMonitor);
                if (otlp) metrics.AddOtlpExporter();
            });
        return services;
    }
}
