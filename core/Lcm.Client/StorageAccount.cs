using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;

namespace Lcm.Client;

/// <summary>
/// The blob and queue clients of one storage account, from a connection string or from an
/// identity-based connection (the Functions <c>AzureWebJobsStorage__accountName</c> convention).
/// </summary>
public sealed class StorageAccount
{
    public const string ConnectionSetting = "AzureWebJobsStorage";

    public StorageAccount(BlobServiceClient blobs, QueueServiceClient queues)
    {
        Blobs = blobs;
        Queues = queues;
    }

    public BlobServiceClient Blobs { get; }
    public QueueServiceClient Queues { get; }

    public static StorageAccount FromConnectionString(string connectionString) =>
        new(new BlobServiceClient(connectionString), new QueueServiceClient(connectionString));

    /// <summary>
    /// Reads <c>{prefix}</c> as a connection string, else <c>{prefix}__blobServiceUri</c> /
    /// <c>__queueServiceUri</c> or <c>{prefix}__accountName</c> with <c>__clientId</c> for a user-assigned
    /// identity, authenticated by DefaultAzureCredential.
    /// </summary>
    public static StorageAccount FromSettings(Func<string, string?> read, string prefix = ConnectionSetting)
    {
        if (read(prefix) is { Length: > 0 } connectionString) return FromConnectionString(connectionString);
        string? account = read($"{prefix}__accountName");
        string? blobUri = read($"{prefix}__blobServiceUri") ?? (account is null ? null : $"https://{account}.blob.core.windows.net");
        string? queueUri = read($"{prefix}__queueServiceUri") ?? (account is null ? null : $"https://{account}.queue.core.windows.net");
        if (blobUri is null || queueUri is null)
            throw new ArgumentException($"storage is not configured: set {prefix} to a connection string, or {prefix}__accountName (or __blobServiceUri and __queueServiceUri) for an identity-based connection");
        var credential = Credential(read, prefix);
        return new StorageAccount(new BlobServiceClient(new Uri(blobUri), credential), new QueueServiceClient(new Uri(queueUri), credential));
    }

    /// <summary>The worker's identity, as its storage connection names it: DefaultAzureCredential with <c>{prefix}__clientId</c> (else AZURE_CLIENT_ID) for a user-assigned identity.</summary>
    public static TokenCredential Credential(Func<string, string?> read, string prefix = ConnectionSetting) =>
        new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = read($"{prefix}__clientId") ?? read("AZURE_CLIENT_ID") });
}
