using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Lcm.Client;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// Stands in for Event Grid where there is none (Azurite): lists <c>lcm-requests</c> and, for each
/// request blob not yet seen, sends the jobs queue the BlobCreated event (CloudEvents schema) that
/// Event Grid would have sent. The event goes first and the blob is marked after, so a crash in
/// between can only send an event twice, which the job processor treats as a duplicate delivery.
/// </summary>
internal sealed class RequestBlobPoller(BlobContainerClient requests, JobQueues queues, ILogger logger)
{
    /// <summary>Blob metadata that marks a request blob whose event was sent.</summary>
    public const string QueuedMarker = "lcmqueued";

    public async Task RunAsync(TimeSpan interval, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PollOnceAsync(stoppingToken);
                await Task.Delay(interval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (RequestFailedException e)
            {
                logger.LogWarning("Polling {Container} failed: {Message}", requests.Name, e.Message);
                await Task.Delay(interval, CancellationToken.None);
            }
        }
    }

    /// <summary>Sends an event for each unmarked request blob; returns how many were sent.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        int sent = 0;
        await foreach (var item in requests.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, null, cancellationToken))
        {
            if (!item.Name.EndsWith(".json", StringComparison.Ordinal) || item.Metadata.ContainsKey(QueuedMarker)) continue;
            var blob = requests.GetBlobClient(item.Name);
            await queues.SendJsonAsync(queues.Names.JobsQueue, new
            {
                specversion = "1.0",
                type = "Microsoft.Storage.BlobCreated",
                source = "lcm-worker/request-poller",
                id = Guid.NewGuid().ToString(),
                time = DateTimeOffset.UtcNow,
                subject = $"/blobServices/default/containers/{requests.Name}/blobs/{item.Name}",
                data = new { api = "PutBlob", url = blob.Uri.ToString() },
            }, cancellationToken);
            try
            {
                var metadata = new Dictionary<string, string>(item.Metadata) { [QueuedMarker] = DateTimeOffset.UtcNow.ToString("O") };
                await blob.SetMetadataAsync(metadata, new BlobRequestConditions { IfMatch = item.Properties.ETag }, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status is 404 or 412)
            {
                // Replaced or deleted meanwhile: a replacement is seen (and sent) on the next poll.
            }
            sent++;
        }
        return sent;
    }
}
