using Lcm.Contracts;

namespace Lcm.Client;

/// <summary>Creates the queues and containers the service needs when they are missing.</summary>
public static class StorageSetup
{
    public static async Task EnsureCreatedAsync(StorageAccount account, StorageNames names, CancellationToken cancellationToken = default)
    {
        foreach (string queue in new[] { names.JobsQueue, names.PoisonQueue, names.WebhooksQueue, names.ResultsQueue }.OfType<string>())
            await account.Queues.GetQueueClient(queue).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        foreach (string container in new[] { StorageNames.ImagesContainer, StorageNames.StatusContainer, StorageNames.InputsContainer, StorageNames.RequestsContainer, StorageNames.FramesContainer })
            await account.Blobs.GetBlobContainerClient(container).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    }
}
