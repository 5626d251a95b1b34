using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Lcm.Realtime;

/// <summary>
/// Entra ID access tokens (<c>entra:TENANT_ID:AUDIENCE</c>): RS256-signed by one of the keys in the
/// authority's OpenID configuration, issued by the tenant (v2.0 or v1 issuer), for the audience, in
/// their lifetime, and holding the app role <c>LCM_REALTIME_ENTRA_ROLE</c> when one is set.
/// </summary>
internal sealed class RealtimeEntraAuth : RealtimeAuth
{
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);
    // Shared by every session: a slow metadata endpoint holds a session's opening this long at most.
    private static readonly HttpClient Metadata = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly JsonWebTokenHandler _handler = new();
    private readonly ConfigurationManager<OpenIdConnectConfiguration> _configuration;
    private readonly TokenValidationParameters _parameters;
    private readonly string? _role;

    public RealtimeEntraAuth(Guid tenant, string audience, string? authority, string? role)
    {
        var address = string.IsNullOrWhiteSpace(authority) ? new Uri($"https://login.microsoftonline.com/{tenant}/v2.0")
            : Uri.TryCreate(authority.Trim(), UriKind.Absolute, out var given) && (given.Scheme == Uri.UriSchemeHttps || (given.Scheme == Uri.UriSchemeHttp && given.IsLoopback)) ? given
            : throw new ArgumentException($"LCM_REALTIME_ENTRA_AUTHORITY must be an https URL (http only on 127.0.0.1 or localhost), e.g. https://login.microsoftonline.com/{tenant}/v2.0; found '{authority}'");
        // The manager caches the configuration and reads it again every 12 hours; a token whose key it lacks makes the handler ask
        // for a refresh (at most one each 5 minutes), which runs in the background: that token may be refused, the next ones not.
        _configuration = new ConfigurationManager<OpenIdConnectConfiguration>(
            address.ToString().TrimEnd('/') + "/.well-known/openid-configuration",
            new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever(Metadata) { RequireHttps = address.Scheme == Uri.UriSchemeHttps });
        _parameters = new TokenValidationParameters
        {
            ConfigurationManager = _configuration,
            // The configuration's own issuer is accepted too (the handler takes it from there): these are the tenant's on the public cloud.
            ValidIssuers = [$"https://login.microsoftonline.com/{tenant}/v2.0", $"https://sts.windows.net/{tenant}/"],
            ValidAudience = audience,
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
            ClockSkew = ClockSkew,
        };
        _role = role;
    }

    public override async ValueTask<string?> RefusalAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (BearerOf(request) is not { } token) return "no bearer token";
        try
        {
            // Read first, so that metadata out of reach is its own reason (fail closed), not a missing key.
            await _configuration.GetConfigurationAsync(cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            // The innermost exception is the one that says what went wrong (refused, timed out, not JSON); the outer ones hide their values.
            return $"the Entra ID metadata at {_configuration.MetadataAddress} could not be read: {e.GetBaseException().Message}";
        }
        // A copy each time: the handler writes its refresh state into the parameters, and sessions open at once.
        var result = await _handler.ValidateTokenAsync(token, _parameters.Clone());
        if (!result.IsValid) return Why(result.Exception, token);
        if (_role is not null && !((JsonWebToken)result.SecurityToken).Claims.Any(c => c.Type == "roles" && c.Value == _role))
            return $"the token does not hold the app role '{_role}'";
        return null;
    }

    /// <summary>The refusal in words of its own: the library's messages hide their values unless PII logging is on.</summary>
    private string Why(Exception e, string token) => e switch
    {
        SecurityTokenExpiredException expired => $"the token expired at {expired.Expires:u}",
        SecurityTokenNotYetValidException early => $"the token is not valid before {early.NotBefore:u}",
        // These two come after the token was read, so it reads again here.
        SecurityTokenInvalidAudienceException => $"the token is for audience '{string.Join("', '", new JsonWebToken(token).Audiences)}', not '{_parameters.ValidAudience}'",
        SecurityTokenInvalidIssuerException => $"the token's issuer '{new JsonWebToken(token).Issuer}' is not the tenant's",
        SecurityTokenInvalidAlgorithmException algorithm => $"the token is signed with {algorithm.InvalidAlgorithm}, not RS256",
        SecurityTokenSignatureKeyNotFoundException => "the token's signing key is not among the issuer's keys",
        SecurityTokenInvalidSignatureException => "the token's signature is wrong",
        SecurityTokenMalformedException => "the bearer token is not a JWT",
        _ => $"the token is refused ({e.GetType().Name})",
    };
}
