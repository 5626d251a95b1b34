using System.Security.Cryptography;
using System.Text;
using Lcm.Contracts;

namespace Lcm.Functions;

/// <summary>How the HTTP API knows its callers (LCM_AUTH_MODE).</summary>
public enum AuthMode
{
    /// <summary>One tenant: whoever holds the function key sees every job. The default.</summary>
    None,
    /// <summary>Container Apps' built-in authentication (Easy Auth) signs callers in and passes their principal on; it strips copies a client sends.</summary>
    EasyAuth,
    /// <summary>Callers send <c>X-Api-Key</c>; LCM_API_KEYS holds each key's id and SHA-256, never the key itself.</summary>
    ApiKeys,
}

/// <summary>The owner id of an HTTP caller: who may see and cancel which jobs, and use which inputs.</summary>
public sealed class CallerIdentity
{
    public const string PrincipalIdHeader = "X-MS-CLIENT-PRINCIPAL-ID";
    public const string PrincipalProviderHeader = "X-MS-CLIENT-PRINCIPAL-IDP";
    public const string ApiKeyHeader = "X-Api-Key";
    public const string Unauthenticated = "unauthenticated";

    private readonly IReadOnlyList<(string Id, byte[] Hash)> _keys;

    public CallerIdentity(AuthMode mode, IReadOnlyList<(string Id, byte[] Hash)>? keys = null)
    {
        Mode = mode;
        _keys = keys ?? [];
        if (mode == AuthMode.ApiKeys && _keys.Count == 0) throw new ArgumentException("LCM_AUTH_MODE=apikeys needs LCM_API_KEYS: id=sha256hex;id2=sha256hex");
    }

    public AuthMode Mode { get; }

    /// <summary>LCM_AUTH_MODE (none|easyauth|apikeys) and LCM_API_KEYS (<c>id=sha256 hex of the key</c>, separated by ';').</summary>
    public static CallerIdentity FromEnvironment(Func<string, string?> read)
    {
        var mode = (read("LCM_AUTH_MODE") ?? "").Trim().ToLowerInvariant() switch
        {
            "" or "none" => AuthMode.None,
            "easyauth" => AuthMode.EasyAuth,
            "apikeys" => AuthMode.ApiKeys,
            var other => throw new ArgumentException($"LCM_AUTH_MODE must be none, easyauth or apikeys, found '{other}'"),
        };
        var keys = new List<(string, byte[])>();
        foreach (string entry in (read("LCM_API_KEYS") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = entry.Split('=', 2, StringSplitOptions.TrimEntries);
            byte[]? hash = parts.Length == 2 && parts[1].Length == 64 ? TryHex(parts[1]) : null;
            if (hash is null || !Names.IsValidOwner("key:" + parts[0]) || keys.Any(k => k.Item1 == parts[0]))
                throw new ArgumentException($"LCM_API_KEYS entries must be id=sha256hex with distinct ids of A-Z, a-z, 0-9, '_', '-', '.'; found '{parts[0]}=...'");
            keys.Add((parts[0], hash));
        }
        return new CallerIdentity(mode, keys);
    }

    /// <summary>The caller's owner id (null in mode none), or the refusal of a caller who did not prove one.</summary>
    public (string? Owner, JobError? Refusal) Resolve(Func<string, string?> header)
    {
        switch (Mode)
        {
            case AuthMode.EasyAuth:
                string owner = $"{header(PrincipalProviderHeader) ?? "aad"}:{header(PrincipalIdHeader)}";
                return header(PrincipalIdHeader) is { Length: > 0 } && Names.IsValidOwner(owner) ? (owner, null)
                    : (null, new JobError(Unauthenticated, "sign in first: this API takes Entra ID tokens (Container Apps authentication), and none reached it"));
            case AuthMode.ApiKeys:
                byte[] presented = SHA256.HashData(Encoding.UTF8.GetBytes(header(ApiKeyHeader) ?? ""));
                // Every key is compared in fixed time, so timing tells nothing of how much of a key was right.
                string? id = null;
                foreach (var key in _keys)
                    if (CryptographicOperations.FixedTimeEquals(presented, key.Hash)) id = key.Id;
                return id is not null ? ("key:" + id, null)
                    : (null, new JobError(Unauthenticated, $"send your API key in the {ApiKeyHeader} header; none was sent or it is not a key of this service"));
            default:
                return (null, null);
        }
    }

    private static byte[]? TryHex(string hex)
    {
        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
