using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Lcm.Contracts;

namespace Lcm.Client;

/// <summary>A status document with the ETag it was read or written with.</summary>
public sealed record StoredStatus(JobStatus Status, ETag ETag);

/// <summary>What <see cref="StatusStore.UpdateAsync"/> found last and what it wrote (null when it wrote nothing).</summary>
public sealed record StatusUpdate(StoredStatus? Current, StoredStatus? Written);

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
            var download = await Blob(id).DownloadStreamingAsync(cancellationToken: cancellationToken);
            await using var content = download.Value.Content;
            byte[] json = download.Value.Details.ContentLength <= MaxDocumentBytes
                ? await BoundedRead.ReadAsync(content, MaxDocumentBytes, cancellationToken) ?? throw TooLarge(id)
                : throw TooLarge(id);
            return new StoredStatus(JobStatus.FromJson(json), download.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>
    /// The one optimistic-concurrency loop: reads the status, asks <paramref name="change"/> what to
    /// write (null: nothing), and writes it on the condition that nothing changed since the read
    /// (create if absent, else If-Match). Another writer winning means a fresh read and a new question,
    /// at most <paramref name="maxRaces"/> more times.
    /// </summary>
    public async Task<StatusUpdate> UpdateAsync(string id, Func<StoredStatus?, ValueTask<JobStatus?>> change, int maxRaces,
        CancellationToken cancellationToken = default)
    {
        StoredStatus? current = null;
        for (int race = 0; race <= maxRaces; race++)
        {
            current = await GetAsync(id, cancellationToken);
            if (await change(current) is not { } next) return new StatusUpdate(current, null);
            var written = current is null ? await TryCreateAsync(next, cancellationToken) : await TryReplaceAsync(next, current.ETag, cancellationToken);
            if (written is not null) return new StatusUpdate(current, written);
        }
        return new StatusUpdate(current, null);
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

    /// <summary>A status holds a request (48 KB at most), a few images' URLs and warnings: a megabyte is far more than any needs.</summary>
    public const int MaxDocumentBytes = 1024 * 1024;

    private static InvalidDataException TooLarge(string id) =>
        new($"the status document of job '{id}' is over {MaxDocumentBytes} bytes; it was not written by this service");

    private BlobClient Blob(string id) => Container.GetBlobClient($"{id}.json");
}
