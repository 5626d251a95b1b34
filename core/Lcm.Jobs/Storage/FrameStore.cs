using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace Lcm.Jobs;

/// <summary>
/// A video job's frames between its split and its assembly: <c>lcm-frames/{id}/source/{i}.png</c> and
/// <c>lcm-frames/{id}/output/{i}.png</c>. The storage lifecycle rule deletes them with the job's other blobs.
/// </summary>
public sealed class FrameStore(BlobContainerClient container)
{
    public BlobContainerClient Container { get; } = container;

    public Task UploadSourceAsync(string jobId, int frame, byte[] png, CancellationToken cancellationToken) => UploadAsync(Name(jobId, "source", frame), png, cancellationToken);

    /// <summary>Writes (or overwrites, on a redelivered chunk: the bytes are the same) one output frame.</summary>
    public Task UploadOutputAsync(string jobId, int frame, byte[] png, CancellationToken cancellationToken) => UploadAsync(Name(jobId, "output", frame), png, cancellationToken);

    public Task<byte[]> SourceAsync(string jobId, int frame, CancellationToken cancellationToken) => DownloadAsync(Name(jobId, "source", frame), cancellationToken);

    public Task<byte[]> OutputAsync(string jobId, int frame, CancellationToken cancellationToken) => DownloadAsync(Name(jobId, "output", frame), cancellationToken);

    public static string Name(string jobId, string kind, int frame) => $"{jobId}/{kind}/{frame:D6}.png";

    private async Task UploadAsync(string name, byte[] png, CancellationToken cancellationToken) =>
        await Container.GetBlobClient(name).UploadAsync(new BinaryData(png), new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "image/png" },
        }, cancellationToken);

    private async Task<byte[]> DownloadAsync(string name, CancellationToken cancellationToken) =>
        (await Container.GetBlobClient(name).DownloadContentAsync(cancellationToken)).Value.Content.ToArray();
}
