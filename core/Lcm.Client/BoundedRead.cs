using Azure.Storage.Blobs;

namespace Lcm.Client;

/// <summary>
/// Reads that stop at a hard cap: a blob or body is streamed and refused as soon as it passes the
/// cap, instead of checking its declared length first and then downloading whatever is there (which
/// may have grown in between).
/// </summary>
public static class BoundedRead
{
    /// <summary>The bytes of the stream, or null when it holds more than <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, long maxBytes, CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>The blob's bytes, or null when it holds more than <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]?> ReadAsync(BlobClient blob, long maxBytes, CancellationToken cancellationToken = default)
    {
        var download = await blob.DownloadStreamingAsync(cancellationToken: cancellationToken);
        await using var content = download.Value.Content;
        // The declared length refuses most oversized blobs before a byte is read; the cap holds regardless.
        return download.Value.Details.ContentLength > maxBytes ? null : await ReadAsync(content, maxBytes, cancellationToken);
    }
}
