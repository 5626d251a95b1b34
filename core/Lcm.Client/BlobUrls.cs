using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;

namespace Lcm.Client;

/// <summary>
/// URLs of blobs for clients: with a fresh read-only SAS when this process holds the account key
/// or can get a user delegation key (identity-based connections), the plain URL otherwise.
/// </summary>
public sealed class BlobUrls(BlobServiceClient service, TimeSpan lifetime, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private (UserDelegationKey Key, DateTimeOffset Expires)? _delegationKey;
    private bool _delegationUnavailable;

    public TimeSpan Lifetime { get; } = lifetime;

    public async Task<string> ReadUrlAsync(string container, string blobName, CancellationToken cancellationToken = default)
    {
        var blob = service.GetBlobContainerClient(container).GetBlobClient(blobName);
        DateTimeOffset expires = _clock.GetUtcNow() + Lifetime;
        if (blob.CanGenerateSasUri) return blob.GenerateSasUri(BlobSasPermissions.Read, expires).ToString();
        if (await DelegationKeyAsync(expires, cancellationToken) is not { } key) return PlainUrl(blob);
        var sas = new BlobSasBuilder(BlobSasPermissions.Read, expires) { BlobContainerName = container, BlobName = blobName, Resource = "b" };
        return new BlobUriBuilder(blob.Uri) { Sas = sas.ToSasQueryParameters(key, service.AccountName) }.ToUri().ToString();
    }

    /// <summary>
    /// The blob's URL without a query: a client built from a SAS connection string carries that SAS in
    /// every URL, and this process's own SAS must never reach a status document or an event.
    /// </summary>
    public static string PlainUrl(BlobClient blob) => new BlobUriBuilder(blob.Uri) { Sas = null }.ToUri().ToString();

    private async Task<UserDelegationKey?> DelegationKeyAsync(DateTimeOffset needed, CancellationToken cancellationToken)
    {
        if (_delegationUnavailable) return null;
        if (_delegationKey is { } cached && cached.Expires >= needed) return cached.Key;
        try
        {
            // One key serves many URLs: ask for a day's worth, the longest a cached key is reused.
            DateTimeOffset now = _clock.GetUtcNow(), expires = now.AddDays(1);
            var key = await service.GetUserDelegationKeyAsync(now.AddMinutes(-5), expires, cancellationToken);
            _delegationKey = (key.Value, expires);
            return key.Value;
        }
        catch (RequestFailedException e)
        {
            // Shared-key clients and identities without the role are refused for good; other failures may pass.
            _delegationUnavailable = e.Status is 400 or 401 or 403;
            return null;
        }
    }
}
