using System.Text.Json;
using Lcm.Cli;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using Lcm.Functions;
using Lcm.Jobs;
using Lcm.Tests.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lcm.Tests.Functions;

/// <summary>The function app's <c>GET /api/health</c>, composed as the app composes it, on an Azurite of its own that the test stops.</summary>
[Collection(Service.ServiceCollection.Name)]
public sealed class FunctionHealthTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Health_is_503_until_the_engine_is_loaded_200_then_and_503_when_storage_stops()
    {
        using var azurite = await Azurite.StartAsync();
        var settings = new WorkerSettings { Names = fixture.NewNames(), Engine = AzuriteFixture.EngineOptions };
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection()
            .AddLogging(logging => logging.AddProvider(new TestLog("functions", output)))
            .AddLcmFunctions(settings, fixture.ModelPath, StorageAccount.FromConnectionString(azurite.ConnectionString))
            .Replace(ServiceDescriptor.Singleton(typeof(LcmEngine), fixture.Engine))
            .BuildServiceProvider();
        var health = services.GetRequiredService<HealthApi>();

        var starting = await GetAsync(health);
        Assert.Equal(503, starting.Code);
        Assert.False(starting.Body.GetProperty("engine").GetProperty("loaded").GetBoolean());
        Assert.True(starting.Body.GetProperty("storage").GetProperty("reachable").GetBoolean());

        // What the host does at start: the warm-up is the app's hosted service.
        foreach (var hosted in services.GetServices<IHostedService>()) await hosted.StartAsync(CancellationToken.None);
        var healthy = await GetAsync(health);
        Assert.Equal(200, healthy.Code);
        Assert.Equal("healthy", healthy.Body.GetProperty("status").GetString());
        Assert.Equal("Cpu", healthy.Body.GetProperty("engine").GetProperty("executionProvider").GetString(), ignoreCase: true);
        Assert.Equal(0, healthy.Body.GetProperty("storage").GetProperty("queuedMessages").GetInt32());

        azurite.Stop();
        var cutOff = await GetAsync(health);
        Assert.Equal(503, cutOff.Code);
        Assert.True(cutOff.Body.GetProperty("engine").GetProperty("loaded").GetBoolean());
        Assert.False(cutOff.Body.GetProperty("storage").GetProperty("reachable").GetBoolean());
    }

    private async Task<(int Code, JsonElement Body)> GetAsync(HealthApi health)
    {
        var result = await health.GetAsync(CancellationToken.None);
        var body = JsonSerializer.SerializeToElement(result.Body, result.Body.GetType(), JobJson.Options);
        output.WriteLine($"{result.StatusCode} {body}");
        return (result.StatusCode, body);
    }
}
