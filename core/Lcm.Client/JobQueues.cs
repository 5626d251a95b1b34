using System.Text.Json;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Lcm.Contracts;

namespace Lcm.Client;

/// <summary>
/// The queues of the service. Messages are sent as base64 text, as the Functions queue trigger
/// expects, and received raw so that a message that is not base64 can be reported as such.
/// </summary>
public sealed class JobQueues(QueueServiceClient service, StorageNames names)
{
    public StorageNames Names { get; } = names;
    public QueueClient Jobs { get; } = service.GetQueueClient(names.JobsQueue);
    public QueueClient Poison { get; } = service.GetQueueClient(names.PoisonQueue);

    public QueueClient Queue(string name) => service.GetQueueClient(name);

    public Task SendJobAsync(JobRequest request, CancellationToken cancellationToken = default) =>
        Jobs.SendMessageAsync(JobMessage.ToBase64(request), cancellationToken);

    /// <summary>Sends a JSON document as base64 text; creates the queue when it is missing (a replyTo queue may not exist yet).</summary>
    public async Task SendJsonAsync<T>(string queue, T document, CancellationToken cancellationToken = default)
    {
        var client = Queue(queue);
        string text = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(document, JobJson.Documents));
        try
        {
            await client.SendMessageAsync(text, cancellationToken);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await client.SendMessageAsync(text, cancellationToken);
        }
    }

    /// <summary>Moves a message to the poison queue with the reason, as the Functions host would (plus the reason).</summary>
    public async Task MoveToPoisonAsync(QueueMessage message, string popReceipt, string reason, CancellationToken cancellationToken = default)
    {
        await SendJsonAsync(Names.PoisonQueue, new PoisonRecord(message.MessageId, message.DequeueCount, reason, message.MessageText), cancellationToken);
        await Jobs.DeleteMessageAsync(message.MessageId, popReceipt, cancellationToken);
    }
}
