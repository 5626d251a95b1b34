using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Lcm.Contracts;

namespace Lcm.Client;

/// <summary>A status document with the ETag it was read or written with.</summary>
public sealed record StoredStatus(JobStatus Status, ETag ETag);

/// <summary>
/// Job status documents in <c>lcm-status/{id}.json</c>. Every write is conditional: create only if
/// absent, replace only if unchanged since read. A lost race returns null and the caller re-reads.
/// </summary>
public sealed class StatusStore(BlobContainerClient container)
{
    public BlobContainerClient Container { get; } = container;

    public async Task<StoredStatus?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        try
        {
            var download = await Blob(id).DownloadContentAsync(cancellationToken);
            return new StoredStatus(JobStatus.FromJson(download.Value.Content.ToMemory().Span), download.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public Task<StoredStatus?> TryCreateAsync(JobStatus status, CancellationToken cancellationToken = default) =>
        TryWriteAsync(status, new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken);

    public Task<StoredStatus?> TryReplaceAsync(JobStatus status, ETag etag, CancellationToken cancellationToken = default) =>
        TryWriteAsync(status, new BlobRequestConditions { IfMatch = etag }, cancellationToken);

    private async Task<StoredStatus?> TryWriteAsync(JobStatus status, BlobRequestConditions conditions, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Blob(status.Id).UploadAsync(new BinaryData(status.ToJson()), new BlobUploadOptions
            {
                Conditions = conditions,
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            }, cancellationToken);
            return new StoredStatus(status, response.Value.ETag);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return null;
        }
    }

    private BlobClient Blob(string id) => Container.GetBlobClient($"{id}.json");
}
