using Azure;
using Azure.Storage.Blobs;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;

namespace Lcm.Jobs;

/// <summary>
/// Init images of image-to-image jobs: blobs in <c>lcm-inputs</c>, named by the job or given as the
/// URL of such a blob in this account. Never an arbitrary URL: the worker fetches nothing from
/// outside its own storage account (claim-check, not a proxy).
/// </summary>
public sealed class InputImages(BlobServiceClient service, ImageInputLimits limits)
{
    public ImageInputLimits Limits { get; } = limits;

    /// <summary>The image's bytes; throws <see cref="InvalidRequestException"/> for references outside lcm-inputs, missing or oversized blobs.</summary>
    public Task<byte[]> DownloadAsync(string reference, CancellationToken cancellationToken) =>
        DownloadAsync(reference, Limits.MaxBytes, "initImage", JobErrorCodes.InvalidInitImage, JobErrorCodes.ImageTooLarge, JobErrorCodes.InitImageNotFound, cancellationToken);

    /// <summary>A video job's input, at most <paramref name="maxBytes"/> (LCM_MAX_VIDEO_BYTES).</summary>
    public Task<byte[]> DownloadVideoAsync(string reference, long maxBytes, CancellationToken cancellationToken) =>
        DownloadAsync(reference, maxBytes, "video.input", JobErrorCodes.InvalidVideo, JobErrorCodes.VideoTooLong, JobErrorCodes.VideoNotFound, cancellationToken);

    private async Task<byte[]> DownloadAsync(string reference, long maxBytes, string field, string invalid, string tooLarge, string notFound, CancellationToken cancellationToken)
    {
        var blob = service.GetBlobContainerClient(StorageNames.InputsContainer).GetBlobClient(ResolveName(reference, field, invalid));
        try
        {
            return await BoundedRead.ReadAsync(blob, maxBytes, cancellationToken)
                ?? throw new InvalidRequestException(tooLarge, $"the {field} blob is over {maxBytes} bytes; at most {maxBytes} are accepted");
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new InvalidRequestException(notFound, $"the {field} blob '{reference}' does not exist in {StorageNames.InputsContainer}; upload it before enqueueing the job");
        }
    }

    private string ResolveName(string reference, string field, string invalid)
    {
        if (!Uri.TryCreate(reference, UriKind.Absolute, out var uri)) return reference;
        // Same account (host, and the account segment of path-style URLs such as Azurite's), container lcm-inputs.
        string container = service.GetBlobContainerClient(StorageNames.InputsContainer).Uri.AbsoluteUri.TrimEnd('/') + "/";
        string url = uri.GetLeftPart(UriPartial.Path);
        if (!url.StartsWith(container, StringComparison.OrdinalIgnoreCase) || !Names.IsSafeBlobName(Uri.UnescapeDataString(url[container.Length..])))
            throw new InvalidRequestException(invalid, $"{field} '{reference}' is not a blob in this service's {StorageNames.InputsContainer} container");
        return Uri.UnescapeDataString(url[container.Length..]);
    }
}
