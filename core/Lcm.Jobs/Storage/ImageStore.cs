using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Lcm.Engine.Imaging;

namespace Lcm.Jobs;

/// <summary>Generated images in <c>lcm-images/{id}/{index}.{ext}</c>, and a running job's preview, with their content types.</summary>
public sealed class ImageStore(BlobContainerClient container)
{
    public BlobContainerClient Container { get; } = container;

    public static string BlobName(string jobId, int index, OutputFormat format) => $"{jobId}/{index}.{format.Extension()}";

    public static string PreviewBlobName(string jobId) => $"{jobId}/preview.jpg";

    /// <summary>Writes (or overwrites, on a redelivered job: the bytes are the same) one image.</summary>
    public Task<string> UploadAsync(string jobId, int index, OutputFormat format, byte[] bytes, CancellationToken cancellationToken = default) =>
        UploadAsync(BlobName(jobId, index, format), format.ContentType(), bytes, cancellationToken);

    /// <summary>Writes a running job's preview (a JPEG) over the one before.</summary>
    public Task<string> UploadPreviewAsync(string jobId, byte[] jpeg, CancellationToken cancellationToken = default) =>
        UploadAsync(PreviewBlobName(jobId), OutputFormat.Jpeg.ContentType(), jpeg, cancellationToken);

    /// <summary>A video job's output, <c>lcm-images/{id}/video.{format}</c>.</summary>
    public Task<string> UploadVideoAsync(string jobId, string format, string contentType, byte[] bytes, CancellationToken cancellationToken = default) =>
        UploadAsync($"{jobId}/video.{format}", contentType, bytes, cancellationToken);

    private async Task<string> UploadAsync(string name, string contentType, byte[] bytes, CancellationToken cancellationToken)
    {
        await Container.GetBlobClient(name).UploadAsync(new BinaryData(bytes), new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
        }, cancellationToken);
        return name;
    }

    public async Task DeleteAllAsync(string jobId, CancellationToken cancellationToken = default)
    {
        await foreach (var blob in Container.GetBlobsAsync(BlobTraits.None, BlobStates.None, jobId + "/", cancellationToken))
            await Container.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: cancellationToken);
    }
}
