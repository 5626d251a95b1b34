using System.Security.Cryptography;
using System.Text;

namespace Lcm.Client;

/// <summary>
/// Standard Webhooks signatures: <c>webhook-signature</c> is a space-separated list of
/// <c>v1,{base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}"}</c>, one per secret, so a
/// secret can rotate without a gap. Secrets are <c>whsec_</c> + base64 of the key.
/// </summary>
public static class WebhookSignature
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";
    private const string SecretPrefix = "whsec_";

    /// <summary>How far a timestamp may be from the receiver's clock: older deliveries are replays.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    /// <summary>The key of a <c>whsec_...</c> secret; throws <see cref="ArgumentException"/> for anything else.</summary>
    public static byte[] Key(string secret)
    {
        try
        {
            byte[] key = secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? Convert.FromBase64String(secret[SecretPrefix.Length..]) : [];
            if (key.Length >= 16) return key;
        }
        catch (FormatException)
        {
        }
        throw new ArgumentException("a webhook secret is whsec_ followed by the base64 of at least 16 random bytes");
    }

    /// <summary>The webhook-signature header for a delivery, signed with each of <paramref name="keys"/>.</summary>
    public static string Sign(string id, long timestamp, string body, IEnumerable<byte[]> keys) =>
        string.Join(' ', keys.Select(key => "v1," + Convert.ToBase64String(Hmac(key, id, timestamp, body))));

    /// <summary>
    /// Whether a delivery was signed with <paramref name="secret"/> within <paramref name="tolerance"/>
    /// (<see cref="DefaultTolerance"/>) of <paramref name="now"/>: what a receiver checks before it
    /// trusts a body. Compared in fixed time.
    /// </summary>
    public static bool Verify(string secret, string? id, string? timestamp, string? signature, string body,
        TimeSpan? tolerance = null, DateTimeOffset? now = null)
    {
        if (id is null || signature is null || !long.TryParse(timestamp, out long seconds)) return false;
        var sent = DateTimeOffset.FromUnixTimeSeconds(seconds);
        if ((sent - (now ?? DateTimeOffset.UtcNow)).Duration() > (tolerance ?? DefaultTolerance)) return false;
        byte[] expected = Hmac(Key(secret), id, seconds, body);
        foreach (string part in signature.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!part.StartsWith("v1,", StringComparison.Ordinal)) continue;
            byte[] given;
            try
            {
                given = Convert.FromBase64String(part[3..]);
            }
            catch (FormatException)
            {
                continue;
            }
            if (CryptographicOperations.FixedTimeEquals(given, expected)) return true;
        }
        return false;
    }

    private static byte[] Hmac(byte[] key, string id, long timestamp, string body) =>
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
}
