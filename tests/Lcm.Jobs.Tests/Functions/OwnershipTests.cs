using System.Security.Cryptography;
using System.Text;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Functions;
using Lcm.Jobs;
using Lcm.Tests.Service;
using Xunit.Abstractions;
using static Lcm.Tests.Functions.HttpCalls;

namespace Lcm.Tests.Functions;

/// <summary>With caller identities, the HTTP API shows, cancels and feeds each caller only their own jobs and uploads.</summary>
[Collection(ServiceCollection.Name)]
public sealed class OwnershipTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private const string AliceKey = "alice-secret-key", BobKey = "bob-secret-key";

    private static CallerIdentity Keys() => CallerIdentity.FromEnvironment(name => name switch
    {
        "LCM_AUTH_MODE" => "apikeys",
        "LCM_API_KEYS" => $"alice={Sha256(AliceKey)}; bob={Sha256(BobKey)}",
        _ => null,
    });

    private static string Sha256(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static Func<string, string?> Key(string key) => Headers((CallerIdentity.ApiKeyHeader, key));

    private JobApi Api(StorageNames names, CallerIdentity identity) =>
        new(new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names }), identity, new ImageInputLimits { MaxBytes = 64 * 1024 },
            new VideoOptions { MaxBytes = 256 * 1024 });

    [Fact]
    public async Task Callers_see_and_cancel_only_their_own_jobs()
    {
        var api = Api(fixture.NewNames(), Keys());
        var submitted = await api.SubmitAsync(Body("""{"prompt":"alice's boat","id":"owned-1"}"""), Key(AliceKey), StatusUrl, CancellationToken.None);
        Assert.Equal(202, submitted.StatusCode);

        var mine = await api.GetAsync("owned-1", Key(AliceKey), CancellationToken.None);
        Assert.Equal(200, mine.StatusCode);
        Assert.Equal("key:alice", ((JobStatus)mine.Body).Request!.Owner);
        // Another caller cannot tell the job from one that does not exist.
        Assert.Equal((404, LcmJobException.NotFound), ((await api.GetAsync("owned-1", Key(BobKey), CancellationToken.None)).StatusCode, ErrorCode(await api.GetAsync("owned-1", Key(BobKey), CancellationToken.None))));
        Assert.Equal(404, (await api.CancelAsync("owned-1", Key(BobKey), CancellationToken.None)).StatusCode);
        Assert.Equal(JobState.Queued, (await fixture.Statuses.GetAsync("owned-1"))!.Status.Status);
        // Nor claim to be its owner in the body, nor take its id.
        Assert.Equal((400, JobErrorCodes.InvalidOwner), await Code(api.SubmitAsync(Body("""{"prompt":"bob's boat","owner":"key:alice"}"""), Key(BobKey), StatusUrl, CancellationToken.None)));
        Assert.Equal(409, (await api.SubmitAsync(Body("""{"prompt":"bob's boat","id":"owned-1"}"""), Key(BobKey), StatusUrl, CancellationToken.None)).StatusCode);

        Assert.Equal(JobState.Canceled, ((JobStatus)(await api.CancelAsync("owned-1", Key(AliceKey), CancellationToken.None)).Body).Status);
        foreach (var call in new[] { Key("wrong-key"), NoHeaders })
            Assert.Equal((401, CallerIdentity.Unauthenticated), await Code(api.GetAsync("owned-1", call, CancellationToken.None)));
    }

    [Fact]
    public async Task A_callers_jobs_use_only_their_own_uploads_and_run_on_them()
    {
        var names = fixture.NewNames();
        var api = Api(names, Keys());
        await using var worker = await TestWorker.StartAsync(fixture, names, output);

        var upload = await api.UploadInputAsync(new MemoryStream(TestPngs.Gradient(96, 72)), Key(AliceKey), CancellationToken.None);
        Assert.Equal(201, upload.StatusCode);
        string input = System.Text.Json.JsonSerializer.SerializeToElement(upload.Body).GetProperty("initImage").GetString()!;
        output.WriteLine($"alice's upload: lcm-inputs/{input}");
        Assert.StartsWith(Names.InputFolder("key:alice") + "/", input);
        Assert.DoesNotContain("alice", input);

        string job = $$"""{"prompt":"a watercolour","initImage":"{{input}}","steps":2,"strength":1,"seed":3}""";
        Assert.Equal((400, JobErrorCodes.InvalidInitImage), await Code(api.SubmitAsync(Body(job), Key(BobKey), StatusUrl, CancellationToken.None)));
        string video = $$$"""{"prompt":"a watercolour","video":{"input":"{{{input}}}"}}""";
        Assert.Equal((400, JobErrorCodes.InvalidVideo), await Code(api.SubmitAsync(Body(video), Key(BobKey), StatusUrl, CancellationToken.None)));
        var accepted = await api.SubmitAsync(Body(job), Key(AliceKey), StatusUrl, CancellationToken.None);
        Assert.Equal(202, accepted.StatusCode);
        string id = System.Text.Json.JsonSerializer.SerializeToElement(accepted.Body, JobJson.Options).GetProperty("id").GetString()!;
        var done = await fixture.WaitForTerminalAsync(id);
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Equal((96, 72), (done.Images[0].Width, done.Images[0].Height));

        // What is not a picture, or is over LCM_MAX_INPUT_BYTES, is refused before it is stored.
        Assert.Equal((400, JobErrorCodes.UnsupportedImage), await Code(api.UploadInputAsync(Body("not an image"), Key(AliceKey), CancellationToken.None)));
        Assert.Equal(413, (await api.UploadInputAsync(new MemoryStream(new byte[65 * 1024]), Key(AliceKey), CancellationToken.None)).StatusCode);
    }

    [Fact]
    public async Task A_video_upload_names_the_video_input_and_runs_as_the_callers_video_job()
    {
        var names = fixture.NewNames();
        var api = Api(names, Keys());
        await using var worker = await TestWorker.StartAsync(fixture, names, output);

        var upload = await api.UploadInputAsync(new MemoryStream(TestVideos.Clip(seconds: 0.5)), Key(AliceKey), CancellationToken.None);
        Assert.Equal(201, upload.StatusCode);
        string input = System.Text.Json.JsonSerializer.SerializeToElement(upload.Body).GetProperty("video").GetProperty("input").GetString()!;
        Assert.StartsWith(Names.InputFolder("key:alice") + "/", input);

        string job = $$$"""{"prompt":"a watercolour","steps":1,"seed":3,"video":{"input":"{{{input}}}","format":"frames"}}""";
        Assert.Equal((400, JobErrorCodes.InvalidVideo), await Code(api.SubmitAsync(Body(job), Key(BobKey), StatusUrl, CancellationToken.None)));
        var accepted = await api.SubmitAsync(Body(job), Key(AliceKey), StatusUrl, CancellationToken.None);
        Assert.Equal(202, accepted.StatusCode);
        string id = System.Text.Json.JsonSerializer.SerializeToElement(accepted.Body, JobJson.Options).GetProperty("id").GetString()!;
        var done = await fixture.WaitForTerminalAsync(id);
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Equal(4, done.Images.Count(i => i.ContentType == "image/png"));

        // A video over LCM_MAX_VIDEO_BYTES is refused before it is stored, whatever the image limit.
        byte[] large = [.. TestVideos.Clip(seconds: 0.5), .. new byte[256 * 1024]];
        Assert.Equal(413, (await api.UploadInputAsync(new MemoryStream(large), Key(AliceKey), CancellationToken.None)).StatusCode);
    }

    [Fact]
    public void Identities_come_from_easy_auth_headers_or_api_keys_and_bad_settings_are_refused_at_start()
    {
        var easyAuth = new CallerIdentity(AuthMode.EasyAuth);
        Assert.Equal(("aad:0f5c9c8e-1111-4a4a-9999-2f1e6c1d2b3a", null),
            easyAuth.Resolve(Headers((CallerIdentity.PrincipalIdHeader, "0f5c9c8e-1111-4a4a-9999-2f1e6c1d2b3a"), (CallerIdentity.PrincipalProviderHeader, "aad"))));
        Assert.Equal(CallerIdentity.Unauthenticated, easyAuth.Resolve(NoHeaders).Refusal?.Code);
        Assert.Equal(CallerIdentity.Unauthenticated, easyAuth.Resolve(Headers((CallerIdentity.PrincipalIdHeader, "a b\n"))).Refusal?.Code);
        Assert.Equal(((string?)"key:bob", (JobError?)null), Keys().Resolve(Key(BobKey)));
        Assert.Equal(((string?)null, (JobError?)null), new CallerIdentity(AuthMode.None).Resolve(Key(BobKey)));

        foreach (var (mode, keys) in new[] { ("apikeys", ""), ("apikeys", "alice=abc"), ("apikeys", $"a={Sha256("x")};a={Sha256("y")}"), ("keys", "") })
            Assert.Throws<ArgumentException>(() => CallerIdentity.FromEnvironment(name => name == "LCM_AUTH_MODE" ? mode : name == "LCM_API_KEYS" ? keys : null));
    }

    private static async Task<(int, string?)> Code(Task<ApiResult> call)
    {
        var result = await call;
        return (result.StatusCode, ErrorCode(result));
    }
}
