using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Functions;
using Lcm.Tests.Service;
using Xunit.Abstractions;
using static Lcm.Tests.Functions.HttpCalls;

namespace Lcm.Tests.Functions;

/// <summary>Idempotency keys and Prefer: wait on POST /api/jobs, against Azurite and a running worker.</summary>
[Collection(ServiceCollection.Name)]
public sealed class SubmitSemanticsTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private JobApi Api(StorageNames names) =>
        new(new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) }),
            new CallerIdentity(AuthMode.None), new ImageInputLimits());

    [Fact]
    public async Task The_same_idempotency_key_returns_the_original_job_and_another_body_is_a_conflict()
    {
        var names = fixture.NewNames();
        var api = Api(names);
        const string body = """{"prompt":"a single boat","width":64,"height":64,"steps":1}""";
        var key = Headers(("Idempotency-Key", "order-7731"));

        var first = await api.SubmitAsync(Body(body), key, StatusUrl, CancellationToken.None);
        var again = await api.SubmitAsync(Body(body), key, StatusUrl, CancellationToken.None);
        var other = await api.SubmitAsync(Body("""{"prompt":"two boats","width":64,"height":64,"steps":1}"""), key, StatusUrl, CancellationToken.None);
        var otherKey = await api.SubmitAsync(Body(body), Headers(("Idempotency-Key", "order-7732")), StatusUrl, CancellationToken.None);

        string id = JsonSerializer.SerializeToElement(first.Body, JobJson.Options).GetProperty("id").GetString()!;
        Assert.Equal(202, first.StatusCode);
        Assert.Equal((200, id), (again.StatusCode, ((JobStatus)again.Body).Id));
        // The key lasts as long as the job's status, which says when that is.
        Assert.Equal(((JobStatus)again.Body).CreatedAt + TimeSpan.FromDays(7), ((JobStatus)again.Body).ExpiresAt);
        Assert.Equal((422, LcmJobException.IdempotencyConflict), (other.StatusCode, ErrorCode(other)));
        Assert.Equal(202, otherKey.StatusCode);
        // One message per key: the replay sent nothing.
        Assert.Equal(2, await fixture.MessageCountAsync(names.JobsQueue));
        Assert.Equal((400, JobErrorCodes.InvalidId), (await Code(api.SubmitAsync(Body("""{"prompt":"a boat","id":"mine"}"""), key, StatusUrl, CancellationToken.None))));
        Assert.Equal((400, LcmJobException.InvalidIdempotencyKey), (await Code(api.SubmitAsync(Body(body), Headers(("Idempotency-Key", "tab\there")), StatusUrl, CancellationToken.None))));
    }

    [Fact]
    public async Task Prefer_wait_returns_the_final_status_when_the_job_ends_in_time()
    {
        var names = fixture.NewNames();
        var api = Api(names);
        await using var worker = await TestWorker.StartAsync(fixture, names, output);

        var waited = await api.SubmitAsync(Body("""{"prompt":"a quick boat","width":64,"height":64,"steps":1}"""), Headers(("Prefer", "respond-async, wait=30")), StatusUrl, CancellationToken.None);
        var notWaited = await api.SubmitAsync(Body("""{"prompt":"a quick boat","width":64,"height":64,"steps":1}"""), NoHeaders, StatusUrl, CancellationToken.None);

        Assert.Equal(200, waited.StatusCode);
        var status = (JobStatus)waited.Body;
        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Contains("sig=", status.Images[0].Url);
        Assert.Equal(202, notWaited.StatusCode);
    }

    private static async Task<(int, string?)> Code(Task<ApiResult> call)
    {
        var result = await call;
        return (result.StatusCode, ErrorCode(result));
    }
}
