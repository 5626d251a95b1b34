using System.Text.Json;

namespace Lcm.Tests.Functions;

/// <summary>The Functions SDK writes functions.metadata when the project builds; the host reads triggers from it.</summary>
public class FunctionsMetadataTests
{
    private static JsonElement[] Functions()
    {
        // The test project references the function app, so its build output sits beside the tests' own.
        string path = Path.Combine(AppContext.BaseDirectory, "functions.metadata");
        Assert.True(File.Exists(path), $"functions.metadata not found at {path}");
        return JsonDocument.Parse(File.ReadAllText(path)).RootElement.EnumerateArray().ToArray();
    }

    private static JsonElement Binding(string function, string type) =>
        Functions().Single(f => f.GetProperty("name").GetString() == function)
            .GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == type);

    [Fact]
    public void Queue_triggers_listen_on_the_configured_jobs_queue_and_its_poison_queue()
    {
        var jobs = Binding("GenerateImage", "queueTrigger");
        Assert.Equal("%LCM_JOBS_QUEUE%", jobs.GetProperty("queueName").GetString());
        Assert.Equal("AzureWebJobsStorage", jobs.GetProperty("connection").GetString());
        var poison = Binding("PoisonJobs", "queueTrigger");
        Assert.Equal("%LCM_JOBS_QUEUE%-poison", poison.GetProperty("queueName").GetString());
        Assert.Equal("AzureWebJobsStorage", poison.GetProperty("connection").GetString());
        var webhooks = Binding("DeliverWebhook", "queueTrigger");
        Assert.Equal("%LCM_JOBS_QUEUE%-webhooks", webhooks.GetProperty("queueName").GetString());
        Assert.Equal("AzureWebJobsStorage", webhooks.GetProperty("connection").GetString());
    }

    [Theory]
    [InlineData("SubmitJob", "jobs", "post")]
    [InlineData("GetJob", "jobs/{id}", "get")]
    [InlineData("CancelJob", "jobs/{id}/cancel", "post")]
    [InlineData("UploadInput", "inputs", "post")]
    [InlineData("Health", "health", "get")]
    public void Http_triggers_have_their_routes_and_methods(string function, string route, string method)
    {
        var trigger = Binding(function, "httpTrigger");
        Assert.Equal(route, trigger.GetProperty("route").GetString());
        Assert.Equal([method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("Function", trigger.GetProperty("authLevel").GetString());
    }

    [Fact]
    public void Host_json_decodes_base64_and_bounds_retries()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "host.json");
        var queues = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("extensions").GetProperty("queues");
        Assert.Equal("base64", queues.GetProperty("messageEncoding").GetString());
        var settings = Lcm.Jobs.QueueSettings.FromHostJson(path);
        Assert.Equal(5, settings.MaxDequeueCount);
        Assert.Equal(4, settings.BatchSize);
    }
}
