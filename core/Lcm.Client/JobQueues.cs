using System.Text.Json;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Lcm.Contracts;

namespace Lcm.Client;

/// <summary>
/// The queues of the service. Messages are sent as base64 text, as the Functions queue trigger
/// expects, and received raw so that a message that is not base64 can be reported as such.
/// </summary>
public sealed class JobQueues(StorageAccount account, StorageNames names)
{

    public StorageNames Names { get; } = names;
    public QueueClient Jobs { get; } = account.Queues.GetQueueClient(names.JobsQueue);
    public QueueClient Poison { get; } = account.Queues.GetQueueClient(names.PoisonQueue);

    public QueueClient Queue(string name) => account.Queues.GetQueueClient(name);

    public Task SendJobAsync(JobRequest request, CancellationToken cancellationToken = default) =>
        Jobs.SendMessageAsync(JobMessage.ToBase64(request), cancellationToken);

    /// <summary>Sends a JSON document as base64 text; creates the queue when it is missing (a replyTo queue may not exist yet).</summary>
    public async Task SendJsonAsync<T>(string queue, T document, CancellationToken cancellationToken = default, TimeSpan? visibleAfter = null)
    {
        var client = Queue(queue);
        string text = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(document, JobJson.Documents));
        try
        {
            await client.SendMessageAsync(text, visibleAfter, cancellationToken: cancellationToken);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await client.SendMessageAsync(text, visibleAfter, cancellationToken: cancellationToken);
        }
    }

    /// <summary>Moves a message to the poison queue with the reason, as the Functions host would (plus the reason).</summary>
    public async Task MoveToPoisonAsync(QueueMessage message, string popReceipt, string reason, CancellationToken cancellationToken = default)
    {
        await SendPoisonAsync(message.MessageId, message.DequeueCount, reason, message.MessageText, cancellationToken);
        await Jobs.DeleteMessageAsync(message.MessageId, popReceipt, cancellationToken);
    }

    /// <summary>Writes the poison record of a message; a large original goes to a blob first, so the record always fits a queue message.</summary>
    public async Task SendPoisonAsync(string messageId, long dequeueCount, string reason, string original, CancellationToken cancellationToken = default)
    {
        var record = new PoisonRecord(messageId, dequeueCount, reason, original);
        if (original.Length > PoisonRecord.MaxInlineOriginal)
        {
            string blob = PoisonRecord.BlobName(messageId);
            await account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer).GetBlobClient(blob)
                .UploadAsync(new BinaryData(original), overwrite: true, cancellationToken);
            record = record with { OriginalMessage = null, OriginalBlob = blob };
        }
        await SendJsonAsync(Names.PoisonQueue, record, cancellationToken);
    }
}
