using System.Net;
using System.Net.Sockets;
using Lcm.Contracts;

namespace Lcm.Client;

/// <summary>
/// Which webhook URLs the service calls, so a job cannot make it reach inside its network (SSRF):
/// https only, public addresses only (no private, loopback, link-local, cloud metadata or multicast
/// ones), checked on every address a name resolves to, and optionally only hosts on an allow-list.
/// <see cref="AllowHttpLoopback"/> opens http to this machine for local development.
/// </summary>
public sealed record WebhookPolicy
{
    /// <summary>LCM_WEBHOOK_ALLOW_HTTP_LOOPBACK: http (and https) to loopback addresses, for a receiver on the developer's machine.</summary>
    public bool AllowHttpLoopback { get; init; }
    /// <summary>LCM_WEBHOOK_ALLOWED_HOSTS: when set, only these hosts (exact, or <c>*.example.com</c> for subdomains).</summary>
    public IReadOnlyList<string>? AllowedHosts { get; init; }

    /// <summary>LCM_WEBHOOK_ALLOW_HTTP_LOOPBACK (true|false) and LCM_WEBHOOK_ALLOWED_HOSTS (comma-separated).</summary>
    public static WebhookPolicy FromSettings(Func<string, string?> read) => new()
    {
        AllowHttpLoopback = Settings.ReadBool(read, "LCM_WEBHOOK_ALLOW_HTTP_LOOPBACK") ?? false,
        AllowedHosts = read("LCM_WEBHOOK_ALLOWED_HOSTS") is { Length: > 0 } hosts
            ? hosts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(h => h.ToLowerInvariant()).ToArray()
            : null,
    };

    /// <summary>Why this service will not call <paramref name="webhook"/>, or null: the URL's rules, then every address its host resolves to.</summary>
    public async Task<JobError?> CheckAsync(string webhook, CancellationToken cancellationToken = default)
    {
        if (Webhooks.ShapeError(webhook, null) is { } shape) return shape;
        var uri = new Uri(webhook);
        string host = uri.IdnHost.ToLowerInvariant();
        if (AllowedHosts is { } allowed && !allowed.Any(a => a == host || a.StartsWith("*.", StringComparison.Ordinal) && host.EndsWith(a[1..], StringComparison.Ordinal)))
            return Refused($"host '{host}' is not on this service's allow-list (LCM_WEBHOOK_ALLOWED_HOSTS)");
        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(uri.DnsSafeHost, cancellationToken);
        }
        catch (SocketException e)
        {
            return Refused($"host '{host}' does not resolve ({e.SocketErrorCode})");
        }
        if (addresses.Length == 0) return Refused($"host '{host}' does not resolve");
        if (addresses.FirstOrDefault(a => !Allows(a)) is { } blocked)
            return Refused($"host '{host}' resolves to {blocked}, a private, loopback, link-local or metadata address");
        if (uri.Scheme == "http" && !addresses.All(IPAddress.IsLoopback))
            return Refused("webhook must be https (http is accepted only for loopback with LCM_WEBHOOK_ALLOW_HTTP_LOOPBACK)");
        return null;
    }

    /// <summary>The addresses of a webhook host: itself when it is a literal address, else what DNS says.</summary>
    public static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);

    /// <summary>Whether a connection to <paramref name="address"/> is allowed: checked again when connecting, so a name that re-resolves elsewhere is caught.</summary>
    public bool Allows(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return AllowHttpLoopback;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal
                || address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.IPv6Any));
        byte[] b = address.GetAddressBytes();
        return !(b[0] is 0 or 10 or 127 || b[0] >= 224                     // this network, private, loopback, multicast and reserved
            || b[0] == 169 && b[1] == 254                                   // link-local, with the cloud metadata endpoint 169.254.169.254
            || b[0] == 172 && b[1] is >= 16 and <= 31 || b[0] == 192 && b[1] == 168
            || b[0] == 100 && b[1] is >= 64 and <= 127                      // carrier-grade NAT
            || b[0] == 192 && b[1] == 0 && b[2] == 0 || b[0] == 198 && b[1] is 18 or 19);
    }

    private static JobError Refused(string reason) => new(JobErrorCodes.InvalidWebhook, $"webhook refused: {reason}");
}
