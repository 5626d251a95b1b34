using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Lcm.Realtime;

/// <summary>
/// Who may open a session: anyone (<c>none</c>, for local use) or holders of a bearer token
/// (<c>token:SECRET</c>), given as <c>Authorization: Bearer</c> or, since browsers cannot set headers on a
/// WebSocket, as the <c>access_token</c> query parameter.
/// </summary>
public sealed class RealtimeAuth
{
    private readonly byte[]? _token;

    private RealtimeAuth(byte[]? token) => _token = token;

    public static RealtimeAuth None { get; } = new(null);

    public static RealtimeAuth Token(string secret) => new(Encoding.UTF8.GetBytes(secret));

    public static RealtimeAuth Parse(string setting) => setting.Trim() switch
    {
        "none" => None,
        var s when s.StartsWith("token:", StringComparison.Ordinal) && s.Length > "token:".Length => Token(s["token:".Length..]),
        _ => throw new ArgumentException($"LCM_REALTIME_AUTH must be 'none' or 'token:SECRET', found '{setting}'"),
    };

    public bool Allows(HttpRequest request)
    {
        if (_token is null) return true;
        string? given = request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? header["Bearer ".Length..]
            : request.Query["access_token"].ToString();
        // Fixed-time comparison: the time taken says nothing about how much of the token was right.
        return !string.IsNullOrEmpty(given) && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _token);
    }
}
