using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Lcm.Realtime;

/// <summary>
/// Who may open a session (LCM_REALTIME_AUTH): anyone (<c>none</c>, for local use), holders of a bearer
/// token (<c>token:SECRET</c>) or of an Entra ID access token (<c>entra:TENANT_ID:AUDIENCE</c>, see
/// <see cref="RealtimeEntraAuth"/>). Tokens come as <c>Authorization: Bearer</c> or, since browsers cannot set
/// headers on a WebSocket, as the <c>access_token</c> query parameter.
/// </summary>
public abstract class RealtimeAuth
{
    private const string Forms = "'none', 'token:SECRET' or 'entra:TENANT_ID:AUDIENCE' (TENANT_ID the directory's GUID, AUDIENCE the app ID URI or client id the tokens carry, e.g. entra:00000000-0000-0000-0000-000000000000:api://lcm-realtime)";

    private protected RealtimeAuth() { }

    public static RealtimeAuth None { get; } = new NoAuth();

    public static RealtimeAuth Token(string secret) => new TokenAuth(Encoding.UTF8.GetBytes(secret));

    /// <param name="setting">LCM_REALTIME_AUTH.</param>
    /// <param name="entraAuthority">LCM_REALTIME_ENTRA_AUTHORITY: only with <c>entra:</c>; else the tenant's v2.0 authority.</param>
    /// <param name="entraRole">LCM_REALTIME_ENTRA_ROLE: only with <c>entra:</c>; an app role the token's <c>roles</c> must hold.</param>
    public static RealtimeAuth Parse(string setting, string? entraAuthority = null, string? entraRole = null)
    {
        string s = setting.Trim();
        if (!s.StartsWith("entra:", StringComparison.Ordinal))
        {
            // A role or authority set without entra: would be a check the operator believes in and nobody makes.
            if (!string.IsNullOrWhiteSpace(entraAuthority) || !string.IsNullOrWhiteSpace(entraRole))
                throw new ArgumentException($"LCM_REALTIME_ENTRA_AUTHORITY and LCM_REALTIME_ENTRA_ROLE are for LCM_REALTIME_AUTH=entra:TENANT_ID:AUDIENCE, found LCM_REALTIME_AUTH '{setting}'");
            return s switch
            {
                "none" => None,
                _ when s.StartsWith("token:", StringComparison.Ordinal) && s.Length > "token:".Length => Token(s["token:".Length..]),
                _ => throw new ArgumentException($"LCM_REALTIME_AUTH must be {Forms}; found '{setting}'"),
            };
        }
        // The audience may hold colons (api://...), so the tenant is up to the second colon and the audience all the rest.
        string[] parts = s["entra:".Length..].Split(':', 2);
        if (parts.Length != 2 || !Guid.TryParse(parts[0], out var tenant) || parts[1].Trim().Length == 0)
            throw new ArgumentException($"LCM_REALTIME_AUTH must be {Forms}; found '{setting}'");
        return new RealtimeEntraAuth(tenant, parts[1].Trim(), entraAuthority, string.IsNullOrWhiteSpace(entraRole) ? null : entraRole.Trim());
    }

    /// <summary>Why <paramref name="request"/> may not open a session, for the log (never the token itself); null when it may.</summary>
    public abstract ValueTask<string?> RefusalAsync(HttpRequest request, CancellationToken cancellationToken);

    protected static string? BearerOf(HttpRequest request) =>
        request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? header["Bearer ".Length..]
            : request.Query["access_token"].ToString() is { Length: > 0 } query ? query : null;

    private sealed class NoAuth : RealtimeAuth
    {
        public override ValueTask<string?> RefusalAsync(HttpRequest request, CancellationToken cancellationToken) => ValueTask.FromResult<string?>(null);
    }

    private sealed class TokenAuth(byte[] token) : RealtimeAuth
    {
        public override ValueTask<string?> RefusalAsync(HttpRequest request, CancellationToken cancellationToken) => ValueTask.FromResult(
            BearerOf(request) is not { } given ? "no bearer token"
            // Fixed-time comparison: the time taken says nothing about how much of the token was right.
            : CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), token) ? null
            : "a wrong bearer token");
    }
}
