using System.Text.RegularExpressions;

namespace Lcm.Contracts;

/// <summary>The naming rules of the contract: job ids, queue names, LoRA names and init image references.</summary>
public static partial class Names
{
    public static bool IsValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>Queue names as Azure Storage allows them: 3-63 of a-z, 0-9 and single hyphens, starting and ending alphanumeric.</summary>
    public static bool IsValidQueueName(string? name) => name is not null && QueueNamePattern().IsMatch(name) && !name.Contains("--");

    /// <summary>1-100 of A-Z, a-z, 0-9, '_', '-' and '.', starting with a letter or digit: no separators, no "..".</summary>
    public static bool IsValidLoraName(string? name) => name is not null && LoraNamePattern().IsMatch(name) && !name.Contains("..");

    /// <summary>1-128 of A-Z, a-z, 0-9 and '_', '-', '.', ':', '@': an Entra object id or API key id with its prefix.</summary>
    public static bool IsValidOwner(string? owner) => owner is not null && OwnerPattern().IsMatch(owner);

    /// <summary>
    /// The folder of lcm-inputs that holds an owner's uploads: a hash, so blob names do not show who
    /// uploaded them; <c>uploads</c> for callers without an identity.
    /// </summary>
    public static string InputFolder(string? owner) => owner is null ? "uploads"
        : "owner-" + Sha256Hex(owner)[..32];

    /// <summary>The lower-case hex SHA-256 of a text's UTF-8: names derived from what callers give (owners, idempotency keys).</summary>
    internal static string Sha256Hex(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    /// <summary>Where a client uploads a job's init image: <c>lcm-inputs/{id}/init</c>.</summary>
    public static string InitImageBlob(string jobId) => $"{jobId}/init";

    /// <summary>Where the client uploads a video job's input in lcm-inputs.</summary>
    public static string VideoInputBlob(string jobId) => $"{jobId}/video";

    /// <summary>A cheap shape check at parse time; the worker checks a URL's account and container when it fetches it.</summary>
    public static bool IsPlausibleInitImage(string reference) =>
        reference.Length is > 0 and <= 1024 && !reference.Any(char.IsControl) && !reference.Contains('\\')
        && (Uri.TryCreate(reference, UriKind.Absolute, out var uri) ? uri.Scheme is "https" or "http" : IsSafeBlobName(reference));

    /// <summary>A relative blob name with no empty, "." or ".." segment.</summary>
    public static bool IsSafeBlobName(string name) =>
        name.Length is > 0 and <= 1024 && !name.StartsWith('/') && !name.Split('/').Any(segment => segment is "" or "." or "..");

    // \z, not $: $ also matches before a final line feed.
    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,64}\z")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.:@-]{1,128}\z")]
    private static partial Regex OwnerPattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\z")]
    private static partial Regex QueueNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\z")]
    private static partial Regex LoraNamePattern();
}
