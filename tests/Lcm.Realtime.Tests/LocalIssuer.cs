using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Lcm.Tests.Realtime;

/// <summary>
/// An Entra-like issuer on a free loopback port: its OpenID configuration and JWKS (the public halves of
/// the keys the test publishes, changed at will), and tokens minted with those keys or any other.
/// </summary>
public sealed class LocalIssuer : IAsyncDisposable
{
    public static readonly Guid Tenant = Guid.Parse("7d3c2f5e-1b4a-4c8e-9f60-2a1b3c4d5e6f");
    public const string Audience = "api://lcm-realtime";
    public static string V2Issuer => $"https://login.microsoftonline.com/{Tenant}/v2.0";
    public static string V1Issuer => $"https://sts.windows.net/{Tenant}/";

    private readonly WebApplication _app;
    private volatile RsaSecurityKey[] _published;
    private int _metadataReads;

    private LocalIssuer(WebApplication app, RsaSecurityKey[] published) => (_app, _published) = (app, published);

    /// <summary>What LCM_REALTIME_ENTRA_AUTHORITY names: the issuer's base, as login.microsoftonline.com/{tenant}/v2.0 is.</summary>
    public string Authority => $"{_app.Urls.First()}/{Tenant}/v2.0";
    public int MetadataReads => _metadataReads;

    public static RsaSecurityKey NewKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public static async Task<LocalIssuer> StartAsync(params RsaSecurityKey[] keys)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var issuer = new LocalIssuer(app, keys);
        app.MapGet($"/{Tenant}/v2.0/.well-known/openid-configuration", (HttpRequest request) =>
        {
            Interlocked.Increment(ref issuer._metadataReads);
            string root = $"{request.Scheme}://{request.Host}/{Tenant}";
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = V2Issuer,
                ["authorization_endpoint"] = $"{root}/oauth2/v2.0/authorize",
                ["token_endpoint"] = $"{root}/oauth2/v2.0/token",
                ["jwks_uri"] = $"{root}/discovery/v2.0/keys",
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            });
        });
        app.MapGet($"/{Tenant}/discovery/v2.0/keys", () => Results.Json(new { keys = issuer._published.Select(Jwk) }));
        await app.StartAsync();
        return issuer;
    }

    private static object Jwk(RsaSecurityKey key)
    {
        var rsa = key.Rsa.ExportParameters(includePrivateParameters: false);
        return new { kty = "RSA", use = "sig", kid = key.KeyId, n = Base64UrlEncoder.Encode(rsa.Modulus), e = Base64UrlEncoder.Encode(rsa.Exponent) };
    }

    /// <summary>The JWKS from now on: a key rotation.</summary>
    public void Publish(params RsaSecurityKey[] keys) => _published = keys;

    /// <summary>A token as Entra gives one, signed with <paramref name="key"/>; each part may be set wrong.</summary>
    public static string Mint(RsaSecurityKey key, string audience = Audience, string? issuer = null, TimeSpan? expiresIn = null, string[]? roles = null)
    {
        var now = DateTime.UtcNow;
        var expires = now + (expiresIn ?? TimeSpan.FromHours(1));
        var claims = new Dictionary<string, object> { ["tid"] = Tenant.ToString(), ["oid"] = Guid.NewGuid().ToString() };
        if (roles is not null) claims["roles"] = roles;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? V2Issuer,
            Audience = audience,
            IssuedAt = expires.AddHours(-2),
            NotBefore = expires.AddHours(-2),
            Expires = expires,
            Claims = claims,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
