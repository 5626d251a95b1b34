using Lcm.Jobs;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Lcm.Tests.Jobs;

/// <summary>OpenTelemetry is registered only where the settings name an exporter.</summary>
public class TelemetryExportersTests
{
    [Fact]
    public void Without_an_exporter_setting_nothing_is_registered()
    {
        using var services = new ServiceCollection().AddLcmTelemetry(_ => null).BuildServiceProvider();
        Assert.Null(services.GetService<TracerProvider>());
        Assert.Null(services.GetService<MeterProvider>());
    }

    [Theory]
    [InlineData(TelemetryExporters.OtlpSetting, "http://127.0.0.1:4317")]
    [InlineData(TelemetryExporters.AzureMonitorSetting, "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:1/")]
    public void An_exporter_setting_registers_traces_and_metrics(string setting, string value)
    {
        using var services = new ServiceCollection().AddLogging().AddLcmTelemetry(name => name == setting ? value : null).BuildServiceProvider();
        Assert.NotNull(services.GetService<TracerProvider>());
        Assert.NotNull(services.GetService<MeterProvider>());
    }
}
