using System.Text;
using System.Text.Json;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Lcm.Client;
using Lcm.Contracts;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;

namespace Lcm.Tests.Service;

/// <summary>What the service tests read back from Azurite: statuses, events, poison records, blobs and queue depths.</summary>
public static class ServiceStorage
{
    /// <summary>Generous: waits are bounded so a broken worker fails the test instead of hanging it, never to time anything.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls the status document until <paramref name="done"/> holds for it.</summary>
    public static async Task<JobStatus> WaitForStatusAsync(this AzuriteFixture fixture, string id, Func<JobStatus, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        JobStatus? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await fixture.Statuses.GetAsync(id))?.Status;
            if (last is not null && done(last)) return last;
            await Task.Delay(Poll);
        }
        throw new TimeoutException($"job '{id}' did not reach the awaited status; last: {(last is null ? "no status" : Encoding.UTF8.GetString(last.ToJson()))}");
    }

    public static Task<JobStatus> WaitForTerminalAsync(this AzuriteFixture fixture, string id, TimeSpan? timeout = null) =>
        fixture.WaitForStatusAsync(id, s => s.IsTerminal, timeout);

    public static QueueClient Queue(this AzuriteFixture fixture, string name) => fixture.Account.Queues.GetQueueClient(name);

    /// <summary>Sends text as it is (the producer encodes, or fails to); returns the queue's message id.</summary>
    public static async Task<string> SendRawAsync(this AzuriteFixture fixture, string queue, string text) =>
        (await fixture.Queue(queue).SendMessageAsync(text)).Value.MessageId;

    /// <summary>Sends a JSON text the way a producer that follows the contract does: UTF-8, base64.</summary>
    public static Task<string> SendJsonAsync(this AzuriteFixture fixture, string queue, string json) =>
        fixture.SendRawAsync(queue, Convert.ToBase64String(Encoding.UTF8.GetBytes(json)));

    /// <summary>Receives and deletes messages until <paramref name="count"/> have come; each is base64 JSON, returned decoded.</summary>
    public static async Task<List<JsonElement>> ReceiveJsonAsync(this AzuriteFixture fixture, string queue, int count, TimeSpan? timeout = null)
    {
        var client = fixture.Queue(queue);
        var received = new List<JsonElement>();
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (received.Count < count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{received.Count} of {count} messages came on queue '{queue}': {string.Join(" | ", received)}");
            QueueMessage[] messages = [];
            try
            {
                messages = (await client.ReceiveMessagesAsync(32)).Value;
            }
            catch (Azure.RequestFailedException e) when (e.Status == 404)
            {
                // The worker creates a replyTo queue with its first event.
            }
            foreach (var message in messages)
            {
                received.Add(DecodeJson(message.MessageText));
                await client.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            }
            if (messages.Length == 0) await Task.Delay(Poll);
        }
        return received;
    }

    /// <summary>The completion events of the given job on a queue, waiting until <paramref name="count"/> have come.</summary>
    public static async Task<List<JsonElement>> ReceiveEventsAsync(this AzuriteFixture fixture, string queue, int count, TimeSpan? timeout = null) =>
        await fixture.ReceiveJsonAsync(queue, count, timeout);

    public static JsonElement DecodeJson(string base64) =>
        JsonDocument.Parse(Convert.FromBase64String(base64)).RootElement.Clone();

    /// <summary>Messages in a queue, visible or not: Azurite counts messages under a lease too, as Azure does.</summary>
    public static Task<int> MessageCountAsync(this AzuriteFixture fixture, string queue) => fixture.Account.MessageCountAsync(queue);

    /// <summary>As for the fixture's account, on another (a test's own Azurite).</summary>
    public static async Task<int> MessageCountAsync(this StorageAccount account, string queue) =>
        (await account.Queues.GetQueueClient(queue).GetPropertiesAsync()).Value.ApproximateMessagesCount;

    /// <summary>Waits until the queue holds no message at all (deleted, not merely invisible).</summary>
    public static Task WaitUntilEmptyAsync(this AzuriteFixture fixture, string queue, TimeSpan? timeout = null) =>
        fixture.Account.WaitUntilEmptyAsync(queue, timeout);

    /// <summary>As for the fixture's account, on another (a test's own Azurite).</summary>
    public static async Task WaitUntilEmptyAsync(this StorageAccount account, string queue, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        int count;
        while ((count = await account.MessageCountAsync(queue)) > 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"queue '{queue}' still holds {count} message(s)");
            await Task.Delay(Poll);
        }
    }

    /// <summary>The image blobs of one job, by name.</summary>
    public static Task<List<string>> ImageBlobsAsync(this AzuriteFixture fixture, string jobId) => fixture.Account.ImageBlobsAsync(jobId);

    /// <summary>As for the fixture's account, on another (a test's own Azurite).</summary>
    public static async Task<List<string>> ImageBlobsAsync(this StorageAccount account, string jobId)
    {
        var names = new List<string>();
        await foreach (var blob in account.Blobs.GetBlobContainerClient(StorageNames.ImagesContainer).GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, jobId + "/", CancellationToken.None)) names.Add(blob.Name);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public static async Task<byte[]> DownloadImageAsync(this AzuriteFixture fixture, string blob) =>
        (await fixture.Images.Container.GetBlobClient(blob).DownloadContentAsync()).Value.Content.ToArray();

    /// <summary>Decodes image bytes for real; fails unless they are a <paramref name="format"/> image of the given size.</summary>
    public static void AssertImage(byte[] bytes, string format, int width, int height)
    {
        using var image = Image.Load(bytes, out IImageFormat detected);
        Assert.Equal(format, detected.Name, ignoreCase: true);
        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
    }

    public static string Base64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json));

    public static string Json(this JobStatus status) => Encoding.UTF8.GetString(status.ToJson());
}
