using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Requests written as blobs to lcm-requests become jobs, from an Event Grid or CloudEvents event, or from the local poller.</summary>
[Collection(ServiceCollection.Name)]
public sealed class RequestBlobTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private static string NewId() => $"req-{Guid.NewGuid():N}"[..20];

    private async Task<string> WriteRequestAsync(string id, string json)
    {
        var blob = fixture.Account.Blobs.GetBlobContainerClient(StorageNames.RequestsContainer).GetBlobClient($"{id}.json");
        await blob.UploadAsync(new BinaryData(json), overwrite: true);
        return blob.Uri.ToString();
    }

    private static string EventGridEvent(string id, string url) => JsonSerializer.Serialize(new[]
    {
        new
        {
            id = Guid.NewGuid().ToString(),
            topic = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a",
            subject = $"/blobServices/default/containers/lcm-requests/blobs/{id}.json",
            eventType = "Microsoft.Storage.BlobCreated",
            eventTime = DateTimeOffset.UtcNow,
            data = new { api = "PutBlob", contentType = "application/json", url },
            dataVersion = "",
            metadataVersion = "1",
        },
    });

    private static string CloudEvent(string id, string url) => JsonSerializer.Serialize(new
    {
        specversion = "1.0",
        type = "Microsoft.Storage.BlobCreated",
        source = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a",
        id = Guid.NewGuid().ToString(),
        time = DateTimeOffset.UtcNow,
        subject = $"/blobServices/default/containers/lcm-requests/blobs/{id}.json",
        data = new { api = "PutBlob", url },
    });

    [Theory]
    [InlineData("eventgrid", true)]
    [InlineData("eventgrid", false)]
    [InlineData("cloudevents", true)]
    [InlineData("cloudevents", false)]
    public async Task A_blob_created_event_runs_the_request_blob_as_a_job(string schema, bool base64)
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string id = NewId();
        string url = await WriteRequestAsync(id, """{"prompt":"a lighthouse","width":64,"height":64,"steps":2,"seed":8}""");
        string message = schema == "eventgrid" ? EventGridEvent(id, url) : CloudEvent(id, url);
        await fixture.SendRawAsync(names.JobsQueue, base64 ? ServiceStorage.Base64(message) : message);

        var status = await fixture.WaitForTerminalAsync(id);
        output.WriteLine(status.Json());
        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Equal(8, status.Request!.Seed);
        ServiceStorage.AssertImage(await fixture.DownloadImageAsync(status.Images[0].Blob), "png", 64, 64);
    }

    [Fact]
    public async Task Bad_request_blobs_fail_under_the_blob_name_and_other_events_are_poisoned()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string bad = NewId(), mismatched = NewId(), missing = NewId();
        await fixture.SendJsonAsync(names.JobsQueue, CloudEvent(bad, await WriteRequestAsync(bad, """{"prompt":"a cat","stepz":2}""")));
        await fixture.SendJsonAsync(names.JobsQueue, CloudEvent(mismatched, await WriteRequestAsync(mismatched, """{"id":"someone-else","prompt":"a cat"}""")));
        await fixture.SendJsonAsync(names.JobsQueue, CloudEvent(missing, "https://a/lcm-requests/nothing.json"));
        await fixture.SendJsonAsync(names.JobsQueue, CloudEvent(NewId(), "x").Replace("BlobCreated", "BlobDeleted"));

        Assert.Equal("unknown_field", (await fixture.WaitForTerminalAsync(bad)).Error!.Code);
        Assert.Equal("invalid_id", (await fixture.WaitForTerminalAsync(mismatched)).Error!.Code);
        Assert.Equal("request_not_found", (await fixture.WaitForTerminalAsync(missing)).Error!.Code);
        var poisoned = await fixture.ReceiveJsonAsync(names.PoisonQueue, 1);
        Assert.Contains("BlobDeleted", poisoned[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task The_local_poller_turns_new_request_blobs_into_jobs_once()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var requests = fixture.Account.Blobs.GetBlobContainerClient(StorageNames.RequestsContainer);
        var poller = new RequestBlobPoller(requests, new JobQueues(fixture.Account, names), new TestLog("poller", output));
        // Earlier tests left request blobs behind: mark them, so this test counts its own.
        await poller.PollOnceAsync(CancellationToken.None);
        await fixture.Queue(names.JobsQueue).ClearMessagesAsync();

        string first = NewId(), second = NewId();
        await WriteRequestAsync(first, """{"prompt":"a fox","width":64,"height":64,"steps":1}""");
        await WriteRequestAsync(second, """{"prompt":"a hare","width":64,"height":64,"steps":1}""");
        Assert.Equal(2, await poller.PollOnceAsync(CancellationToken.None));
        Assert.Equal(0, await poller.PollOnceAsync(CancellationToken.None));

        Assert.Equal(JobState.Succeeded, (await fixture.WaitForTerminalAsync(first)).Status);
        Assert.Equal(JobState.Succeeded, (await fixture.WaitForTerminalAsync(second)).Status);
        var metadata = (await requests.GetBlobClient($"{first}.json").GetPropertiesAsync()).Value.Metadata;
        Assert.True(metadata.ContainsKey(RequestBlobPoller.QueuedMarker));
    }

    [Fact]
    public async Task Lcm_worker_polls_request_blobs_when_the_setting_is_on()
    {
        var names = fixture.NewNames();
        var settings = TestWorker.Settings(names) with { RequestPollInterval = TimeSpan.FromMilliseconds(300) };
        string id = NewId();
        await WriteRequestAsync(id, """{"prompt":"an owl","width":64,"height":64,"steps":1}""");
        await using var worker = await TestWorker.StartLocalAsync(fixture, settings, output);
        Assert.Equal(JobState.Succeeded, (await fixture.WaitForTerminalAsync(id)).Status);
    }
}
