using Lcm.Realtime;
using Lcm.Tests.Generation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lcm.Tests.Realtime;

/// <summary>
/// LCM_REALTIME_AUTH=entra:TENANT_ID:AUDIENCE against a real issuer on a loopback port (its OpenID
/// configuration and JWKS over HTTP) with tokens the test mints: the real validation, no stand-ins.
/// </summary>
public sealed class RealtimeEntraAuthTests(TestModels models) : IClassFixture<TestModels>
{
    private static readonly string Setting = $"entra:{LocalIssuer.Tenant}:{LocalIssuer.Audience}";

    private static RealtimeAuth Auth(LocalIssuer issuer, string? role = null) => RealtimeAuth.Parse(Setting, issuer.Authority, role);

    private static ValueTask<string?> RefusalAsync(RealtimeAuth auth, string? bearer, bool inQuery = false)
    {
        var context = new DefaultHttpContext();
        if (bearer is not null && inQuery) context.Request.QueryString = QueryString.Create("access_token", bearer);
        else if (bearer is not null) context.Request.Headers.Authorization = $"Bearer {bearer}";
        return auth.RefusalAsync(context.Request, CancellationToken.None);
    }

    [Fact]
    public async Task A_valid_token_opens_a_session_by_header_or_query_and_an_expired_one_is_refused_with_unauthorized_and_4401()
    {
        var key = LocalIssuer.NewKey("k1");
        await using var issuer = await LocalIssuer.StartAsync(key);
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path, new RealtimeOptions { Auth = Auth(issuer) });

        using (var header = await RealtimeClient.ConnectAsync(server.Socket, bearer: LocalIssuer.Mint(key)))
            await header.ReceiveJsonAsync("ready");
        using (var query = await RealtimeClient.ConnectAsync(new Uri($"{server.Socket}?access_token={LocalIssuer.Mint(key)}")))
            await query.ReceiveJsonAsync("ready");
        using (var expired = await RealtimeClient.ConnectAsync(server.Socket, bearer: LocalIssuer.Mint(key, expiresIn: TimeSpan.FromMinutes(-5))))
            await expired.AssertClosedWithAsync(RealtimeErrors.Unauthorized, RealtimeErrors.CloseUnauthorized);
        using (var anonymous = await RealtimeClient.ConnectAsync(server.Socket))
            await anonymous.AssertClosedWithAsync(RealtimeErrors.Unauthorized, RealtimeErrors.CloseUnauthorized);
    }

    [Fact]
    public async Task Tokens_are_refused_for_their_lifetime_audience_issuer_signature_or_form_each_with_its_reason()
    {
        var key = LocalIssuer.NewKey("k1");
        await using var issuer = await LocalIssuer.StartAsync(key);
        var auth = Auth(issuer);

        Assert.Null(await RefusalAsync(auth, LocalIssuer.Mint(key)));
        Assert.Null(await RefusalAsync(auth, LocalIssuer.Mint(key), inQuery: true));
        Assert.Null(await RefusalAsync(auth, LocalIssuer.Mint(key, issuer: LocalIssuer.V1Issuer)));
        // Inside the minute of clock skew.
        Assert.Null(await RefusalAsync(auth, LocalIssuer.Mint(key, expiresIn: TimeSpan.FromSeconds(-20))));

        Assert.Equal("no bearer token", await RefusalAsync(auth, null));
        Assert.Contains("expired", await RefusalAsync(auth, LocalIssuer.Mint(key, expiresIn: TimeSpan.FromMinutes(-5))));
        Assert.Contains("audience 'api://another-app'", await RefusalAsync(auth, LocalIssuer.Mint(key, audience: "api://another-app")));
        Assert.Contains("issuer 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0'",
            await RefusalAsync(auth, LocalIssuer.Mint(key, issuer: "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0")));
        // Another key under the published key's id: a forgery.
        Assert.Contains("signature is wrong", await RefusalAsync(auth, LocalIssuer.Mint(LocalIssuer.NewKey("k1"))));
        Assert.Contains("signing key is not among", await RefusalAsync(auth, LocalIssuer.Mint(LocalIssuer.NewKey("unknown"))));
        Assert.Contains("not a JWT", await RefusalAsync(auth, "s3cret"));
    }

    [Fact]
    public async Task A_required_app_role_must_be_in_the_tokens_roles()
    {
        var key = LocalIssuer.NewKey("k1");
        await using var issuer = await LocalIssuer.StartAsync(key);
        var auth = Auth(issuer, role: "Realtime.Use");

        Assert.Null(await RefusalAsync(auth, LocalIssuer.Mint(key, roles: ["Reader", "Realtime.Use"])));
        Assert.Contains("app role 'Realtime.Use'", await RefusalAsync(auth, LocalIssuer.Mint(key)));
        Assert.Contains("app role 'Realtime.Use'", await RefusalAsync(auth, LocalIssuer.Mint(key, roles: ["Reader"])));
    }

    [Fact]
    public async Task After_a_key_rotation_a_token_with_the_new_kid_is_accepted_once_one_metadata_refresh_has_read_the_new_keys()
    {
        var old = LocalIssuer.NewKey("old");
        await using var issuer = await LocalIssuer.StartAsync(old);
        var auth = Auth(issuer);
        Assert.Null(await RefusalAsync(auth, LocalIssuer.Mint(old)));
        Assert.Null(await RefusalAsync(auth, LocalIssuer.Mint(old)));
        Assert.Equal(1, issuer.MetadataReads);

        var rotated = LocalIssuer.NewKey("new");
        issuer.Publish(rotated);
        // The unknown kid asks for a refresh, which the library runs in the background: the token that
        // asked may still be refused, and one after it, once the keys are read again, is not.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await RefusalAsync(auth, LocalIssuer.Mint(rotated)) is { } refusal)
        {
            Assert.True(DateTime.UtcNow < deadline, $"still refused after the rotation: {refusal}");
            await Task.Delay(50);
        }
        Assert.Equal(2, issuer.MetadataReads);

        // Refreshes are rationed: tokens with made-up kids cannot make the server fetch metadata for each.
        Assert.Contains("signing key is not among", await RefusalAsync(auth, LocalIssuer.Mint(LocalIssuer.NewKey("made-up"))));
        await Task.Delay(200);
        Assert.Equal(2, issuer.MetadataReads);
    }

    [Fact]
    public async Task Metadata_out_of_reach_refuses_every_token_with_its_reason()
    {
        var key = LocalIssuer.NewKey("k1");
        string authority;
        await using (var gone = await LocalIssuer.StartAsync(key)) authority = gone.Authority;
        var auth = RealtimeAuth.Parse(Setting, authority);

        string? refusal = await RefusalAsync(auth, LocalIssuer.Mint(key));
        Assert.Contains($"metadata at {authority}/.well-known/openid-configuration could not be read: ", refusal);
        Assert.DoesNotContain("PII", refusal);
    }

    [Fact]
    public async Task The_hosts_request_lines_which_carry_the_access_token_query_are_not_logged()
    {
        await using var app = RealtimeApp.Build(models.Fp32Path, "http://127.0.0.1:0", new RealtimeOptions(), TestModels.Cpu);
        var logging = app.Services.GetRequiredService<ILoggerFactory>();
        Assert.False(logging.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
        Assert.True(logging.CreateLogger("Lcm.Realtime.RealtimeEndpoint").IsEnabled(LogLevel.Information));
    }

    [Theory]
    [InlineData("entra:")]
    [InlineData("entra:contoso.onmicrosoft.com:api://lcm-realtime")]
    [InlineData("entra:7d3c2f5e-1b4a-4c8e-9f60-2a1b3c4d5e6f")]
    [InlineData("entra:7d3c2f5e-1b4a-4c8e-9f60-2a1b3c4d5e6f: ")]
    [InlineData("token:")]
    [InlineData("bearer:s3cret")]
    public void A_bad_setting_is_refused_with_the_forms_to_write(string setting)
    {
        var e = Assert.Throws<ArgumentException>(() => RealtimeAuth.Parse(setting));
        Assert.Contains("'none', 'token:SECRET' or 'entra:TENANT_ID:AUDIENCE'", e.Message);
    }

    [Fact]
    public void Entra_settings_without_entra_or_an_authority_over_plain_http_are_refused()
    {
        Assert.Contains("are for LCM_REALTIME_AUTH=entra:", Assert.Throws<ArgumentException>(() => RealtimeAuth.Parse("token:s3cret", entraRole: "Realtime.Use")).Message);
        Assert.Contains("are for LCM_REALTIME_AUTH=entra:", Assert.Throws<ArgumentException>(() => RealtimeOptions.Read(name => name == "LCM_REALTIME_ENTRA_ROLE" ? "Realtime.Use" : null)).Message);
        Assert.Contains("must be an https URL", Assert.Throws<ArgumentException>(() => RealtimeAuth.Parse(Setting, "http://login.example.com/tenant/v2.0")).Message);
    }
}
