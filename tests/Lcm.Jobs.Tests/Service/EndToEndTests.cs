using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Submit through <see cref="LcmJobClient"/>, serve with the local worker, read everything back from storage.</summary>
[Collection(ServiceCollection.Name)]
public sealed class EndToEndTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private static readonly HttpClient Http = new();

    [Theory]
    [InlineData(null, "png", "image/png", "PNG")]
    [InlineData("jpeg", "jpg", "image/jpeg", "JPEG")]
    [InlineData("webp", "webp", "image/webp", "Webp")]
    public async Task Submitted_job_succeeds_with_images_status_metrics_and_events(string? format, string extension, string contentType, string decodedAs)
    {
        var names = fixture.NewNames();
        string replyTo = "reply-" + Guid.NewGuid().ToString("N")[..8];
        await using var worker = await TestWorker.StartLocalAsync(fixture, TestWorker.Settings(names), output);
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });

        var submitted = await client.SubmitAsync(new JobRequest
        {
            Prompt = "a lighthouse at dusk",
            Width = 64,
            Height = 96,
            Steps = 2,
            Seed = 1234,
            Count = 2,
            Format = format,
            ReplyTo = replyTo,
        });
        Assert.Equal(JobState.Queued, submitted.Status);
        Assert.True(Names.IsValidId(submitted.Id), submitted.Id);

        var status = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        output.WriteLine(status.Json());
        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Null(status.Error);
        Assert.Equal(1, status.Attempts);
        Assert.NotNull(status.StartedAt);
        Assert.NotNull(status.CompletedAt);
        Assert.True(status.CreatedAt <= status.StartedAt && status.StartedAt <= status.CompletedAt);
        Assert.Equal(1234, status.Request!.Seed);
        Assert.Equal(2, status.Request.Steps);
        Assert.Equal(format ?? "png", status.Request.Format);
        Assert.Equal(replyTo, status.Request.ReplyTo);

        // Metrics: the step times of the run and how long the job waited.
        Assert.NotNull(status.Metrics);
        Assert.True(status.Metrics!.RunMs > 0);
        Assert.True(status.Metrics.QueueMs >= 0);
        Assert.Equal(2, status.Metrics.StepsMs.Count);
        Assert.All(status.Metrics.StepsMs, ms => Assert.True(ms > 0));

        Assert.Equal(2, status.Images.Count);
        for (int i = 0; i < 2; i++)
        {
            var image = status.Images[i];
            Assert.Equal($"{submitted.Id}/{i}.{extension}", image.Blob);
            Assert.Equal((64, 96, 1234 + i, contentType), (image.Width, image.Height, image.Seed, image.ContentType));

            var properties = await fixture.Images.Container.GetBlobClient(image.Blob).GetPropertiesAsync();
            Assert.Equal(contentType, properties.Value.ContentType);

            // The client's URL carries a read SAS: anyone can download it with plain HTTP.
            Assert.Contains("sig=", image.Url);
            using var response = await Http.GetAsync(image.Url);
            Assert.True(response.IsSuccessStatusCode, $"GET {image.Url}: {(int)response.StatusCode}");
            Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
            ServiceStorage.AssertImage(await response.Content.ReadAsByteArrayAsync(), decodedAs, 64, 96);
        }
        // The containers are private: without the SAS the same blob is refused.
        using (var plain = await Http.GetAsync(fixture.Images.Container.GetBlobClient(status.Images[0].Blob).Uri))
            Assert.False(plain.IsSuccessStatusCode, "the image container must not be public");
        Assert.Equal(status.Images.Select(i => i.Blob), await fixture.ImageBlobsAsync(submitted.Id));

        // One completion event on the results queue and one on the job's replyTo queue, alike.
        foreach (string queue in new[] { names.ResultsQueue!, replyTo })
        {
            var completed = Assert.Single(await fixture.ReceiveEventsAsync(queue, 1));
            output.WriteLine($"{queue}: {completed}");
            Assert.Equal(submitted.Id, completed.GetProperty("id").GetString());
            Assert.Equal("succeeded", completed.GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Null, completed.GetProperty("error").ValueKind);
            var images = completed.GetProperty("images").EnumerateArray().ToArray();
            Assert.Equal(status.Images.Select(i => i.Blob), images.Select(i => i.GetProperty("blob").GetString()));
            string url = images[0].GetProperty("url").GetString()!;
            Assert.Contains("sig=", url);
            ServiceStorage.AssertImage(await Http.GetByteArrayAsync(url), decodedAs, 64, 96);
        }
        Assert.Equal(0, await fixture.MessageCountAsync(names.JobsQueue));
        Assert.True(worker.IsRunning);
    }

    [Fact]
    public async Task Raw_base64_json_from_a_producer_that_is_not_our_client_is_a_job()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string id = "raw-" + Guid.NewGuid().ToString("N")[..8];

        // Only the Azure SDK's QueueClient: no status written beforehand, every default left to the worker.
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{id}}","prompt":"a cat","width":64,"height":64}""");
        var status = await fixture.WaitForTerminalAsync(id);

        output.WriteLine(status.Json());
        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Equal(1, status.Attempts);
        var request = status.Request!;
        Assert.Equal((id, "a cat", 4, 8.5, 1, "png", 90), (request.Id, request.Prompt, request.Steps, request.GuidanceScale, request.Count, request.Format, request.Quality));
        Assert.InRange(request.Seed!.Value, 0, uint.MaxValue);
        var image = Assert.Single(status.Images);
        Assert.Equal($"{id}/0.png", image.Blob);
        Assert.Equal(request.Seed, image.Seed);
        ServiceStorage.AssertImage(await fixture.DownloadImageAsync(image.Blob), "PNG", 64, 64);
        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        Assert.Equal(id, completed.GetProperty("id").GetString());
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
    }

    [Fact]
    public async Task Producer_using_the_sdk_base64_encoding_and_no_id_gets_the_queue_message_id_as_job_id()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);

        // The SDK's own base64 option: the producer hands over plain JSON, the SDK encodes it.
        var producer = new Azure.Storage.Queues.QueueClient(fixture.ConnectionString, names.JobsQueue,
            new Azure.Storage.Queues.QueueClientOptions { MessageEncoding = Azure.Storage.Queues.QueueMessageEncoding.Base64 });
        string messageId = (await producer.SendMessageAsync("""{"prompt":"a dog","width":64,"height":64,"seed":5}""")).Value.MessageId;
        var status = await fixture.WaitForTerminalAsync(messageId);

        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Equal(messageId, status.Id);
        Assert.Equal($"{messageId}/0.png", Assert.Single(status.Images).Blob);
        ServiceStorage.AssertImage(await fixture.DownloadImageAsync(status.Images[0].Blob), "PNG", 64, 64);
        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        Assert.Equal(messageId, completed.GetProperty("id").GetString());
    }
}
