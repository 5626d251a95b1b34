using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Signed webhooks from a real worker to a real receiver on loopback: events, retries, what is recorded, and the URLs refused.</summary>
[Collection(ServiceCollection.Name)]
public sealed class WebhookTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private static readonly string Secret = "whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("a test secret of 32 bytes length"));
    private static readonly string OldSecret = "whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("the secret that is being rotated"));

    private static JobProcessorOptions Processor(bool withSecret = true) => TestWorker.FastProcessor with
    {
        Webhooks = new WebhookOptions
        {
            Keys = withSecret ? [WebhookSignature.Key(OldSecret), WebhookSignature.Key(Secret)] : [],
            Policy = new WebhookPolicy { AllowHttpLoopback = true },
            Timeout = TimeSpan.FromSeconds(1),
            RetryDelays = [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(200), 5)],
        },
    };

    [Fact]
    public async Task Started_and_completed_events_arrive_signed_and_the_completed_one_is_retried_until_delivered()
    {
        var names = fixture.NewNames();
        using var receiver = new WebhookReceiver();
        string id = "hooked-" + Guid.NewGuid().ToString("N")[..8];
        receiver.Then(200, delay: TimeSpan.FromSeconds(3), webhookId: $"{id}.completed");   // no answer within the 1 s timeout
        receiver.Then(503, webhookId: $"{id}.completed");                                   // retried: the receiver is busy
        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor());
        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest
        {
            Id = id, Prompt = "a hook", Width = 64, Height = 64, Steps = 1, Seed = 2,
            Webhook = receiver.Url(), WebhookEvents = [Webhooks.Started, Webhooks.Completed],
        }));

        var received = await receiver.WaitForAsync(4);
        var status = await fixture.WaitForStatusAsync(id, s => s.Webhook is { Delivered: true });
        foreach (var hook in received) output.WriteLine($"{hook.At:HH:mm:ss.fff} {hook.Headers["webhook-id"]} {hook.Body}");

        Assert.All(received, hook => Assert.True(SignedWith(Secret, hook) && SignedWith(OldSecret, hook), "each secret signs every delivery"));
        Assert.All(received, hook => Assert.True(WebhookSignature.Verify(Secret, hook.Headers["webhook-id"], hook.Headers["webhook-timestamp"], hook.Headers["webhook-signature"], hook.Body)));
        Assert.False(WebhookSignature.Verify(Secret, received[0].Headers["webhook-id"], received[0].Headers["webhook-timestamp"], received[0].Headers["webhook-signature"], received[0].Body + " "));
        var startedHook = Assert.Single(received, hook => hook.Headers["webhook-id"] == $"{id}.started.1");
        var started = JsonDocument.Parse(startedHook.Body).RootElement;
        Assert.Equal(("running", 1), (started.GetProperty("status").GetString(), started.GetProperty("attempt").GetInt32()));
        // Three tries of one completed event: the same id and bytes each time, the completion event itself.
        var tries = received.Where(hook => hook.Headers["webhook-id"] == $"{id}.completed").ToArray();
        Assert.Equal(3, tries.Length);
        Assert.All(tries, hook => Assert.Equal(tries[0].Body, hook.Body));
        var completed = JsonDocument.Parse(tries[0].Body).RootElement;
        Assert.Equal((id, "succeeded"), (completed.GetProperty("id").GetString(), completed.GetProperty("status").GetString()));
        Assert.Equal(status.Images[0].Blob, completed.GetProperty("images")[0].GetProperty("blob").GetString());
        Assert.Equal((3, true, 200), (status.Webhook!.Attempts, status.Webhook.Delivered, status.Webhook.LastStatusCode));
        Assert.Equal(JobState.Succeeded, status.Status);
        await fixture.WaitUntilEmptyAsync(names.WebhooksQueue);
    }

    [Fact]
    public async Task Progress_is_written_into_the_running_status_and_sent_as_progress_webhooks()
    {
        var names = fixture.NewNames();
        using var receiver = new WebhookReceiver();
        // Held after its steps, however fast the machine: the last step's progress goes out while the job still runs.
        var held = new HeldGenerator(fixture.Engine);
        await using var worker = await TestWorker.StartAsync(fixture, names, output, generator: held,
            processor: Processor() with { ProgressInterval = TimeSpan.FromMilliseconds(50) });
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, Webhooks = new WebhookPolicy { AllowHttpLoopback = true } });

        var submitted = await client.SubmitAsync(new JobRequest
        {
            Prompt = "a held hook", Width = 256, Height = 256, Steps = 8, Seed = 3,
            Webhook = receiver.Url(), WebhookEvents = [Webhooks.Progress, Webhooks.Completed],
        });
        var running = await fixture.WaitForStatusAsync(submitted.Id, s => s.Progress?.Step == 8 || s.IsTerminal);
        await receiver.WaitForAsync(1); // a progress webhook: the completed one cannot come before the release
        held.Release();
        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        await receiver.WaitForAsync(2);
        await Task.Delay(500);
        var hooks = receiver.Received.ToArray();
        foreach (var hook in hooks) output.WriteLine($"{hook.At:HH:mm:ss.fff} {hook.Headers["webhook-id"]} {hook.Body}");

        Assert.Equal(JobState.Running, running.Status);
        Assert.Equal((8, 8, 0, 1), (running.Progress!.Steps, running.Progress.Step, running.Progress.Image, running.Progress.Images));
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Null(done.Progress);
        var steps = hooks.Where(h => h.Headers["webhook-id"].Contains(".progress.")).Select(h => JsonDocument.Parse(h.Body).RootElement.GetProperty("progress").GetProperty("step").GetInt32()).ToArray();
        // Deliveries run in parallel off a queue, so progress events may arrive out of order: the body's step says which.
        Assert.NotEmpty(steps);
        Assert.All(steps, step => Assert.InRange(step, 1, 8));
        Assert.Equal(steps.Length, steps.Distinct().Count());
        Assert.Single(hooks, h => h.Headers["webhook-id"] == $"{submitted.Id}.completed");
    }

    [Fact]
    public async Task A_redirect_is_not_followed_and_a_final_answer_is_not_retried()
    {
        var names = fixture.NewNames();
        using var receiver = new WebhookReceiver();
        receiver.Then(302, headers: ("Location", receiver.Url("elsewhere")));
        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor());
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, Webhooks = new WebhookPolicy { AllowHttpLoopback = true } });

        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "a redirect", Width = 64, Height = 64, Steps = 1, Webhook = receiver.Url() });
        var status = await fixture.WaitForStatusAsync(submitted.Id, s => s.Webhook is not null);
        await Task.Delay(1000);

        Assert.Equal((1, false, 302), (status.Webhook!.Attempts, status.Webhook.Delivered, status.Webhook.LastStatusCode));
        Assert.Equal(["/hook"], receiver.Received.Select(r => r.Path));
    }

    [Theory]
    [InlineData("https://10.1.2.3/hook", "10.1.2.3, a private")]
    [InlineData("https://169.254.169.254/latest/meta-data", "169.254.169.254")]
    [InlineData("https://[fd00::1]/hook", "fd00::1")]
    [InlineData("https://127.0.0.1/hook", "127.0.0.1")]
    [InlineData("https://localhost/hook", "resolves to")]
    [InlineData("https://192.168.1.10/hook", "192.168.1.10")]
    [InlineData("https://100.64.0.1/hook", "100.64.0.1")]
    [InlineData("https://[::ffff:10.0.0.1]/hook", "10.0.0.1")]
    [InlineData("ftp://8.8.8.8/hook", "https URL")]
    [InlineData("https://user:secret@8.8.8.8/hook", "without user info")]
    public async Task Private_loopback_and_metadata_addresses_are_refused(string url, string says)
    {
        var refused = await new WebhookPolicy().CheckAsync(url);
        output.WriteLine(refused?.Message);
        Assert.Equal(JobErrorCodes.InvalidWebhook, refused?.Code);
        Assert.Contains(says, refused!.Message);
    }

    [Fact]
    public async Task Public_addresses_pass_and_the_allow_list_and_http_rules_hold()
    {
        Assert.Null(await new WebhookPolicy().CheckAsync("https://8.8.8.8/hook"));
        Assert.Contains("allow-list", (await new WebhookPolicy { AllowedHosts = ["hooks.example.com", "*.example.org"] }.CheckAsync("https://8.8.8.8/hook"))!.Message);
        Assert.Contains("https", (await new WebhookPolicy().CheckAsync("http://8.8.8.8/hook"))!.Message);
        Assert.Null(await new WebhookPolicy { AllowHttpLoopback = true }.CheckAsync("http://127.0.0.1:9/hook"));
    }

    [Fact]
    public async Task Refused_webhooks_fail_the_job_before_any_work_at_submit_and_on_delivery()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        var atSubmit = await Assert.ThrowsAsync<LcmJobException>(() => client.SubmitAsync(new JobRequest { Prompt = "a leak", Webhook = "https://169.254.169.254/latest" }));
        Assert.Equal((400, JobErrorCodes.InvalidWebhook), (atSubmit.Status, atSubmit.ErrorCode));

        await using (var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor()))
        {
            await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Id = "leak-1", Prompt = "a leak", Webhook = "https://10.0.0.5/hook" }));
            var failed = await fixture.WaitForTerminalAsync("leak-1");
            Assert.Equal((JobState.Failed, JobErrorCodes.InvalidWebhook, 0), (failed.Status, failed.Error!.Code, failed.Attempts));
        }
        // A worker that cannot sign refuses webhooks too, rather than send them unsigned.
        await using (var unsigned = await TestWorker.StartAsync(fixture, names, output, processor: Processor(withSecret: false)))
        {
            await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Id = "unsigned-1", Prompt = "a hook", Webhook = "https://8.8.8.8/hook" }));
            var failed = await fixture.WaitForTerminalAsync("unsigned-1");
            Assert.Equal((JobErrorCodes.InvalidWebhook, 0), (failed.Error!.Code, failed.Attempts));
            Assert.Contains("LCM_WEBHOOK_SECRET", failed.Error.Message);
        }
    }

    /// <summary>The receiver's own check, written from the Standard Webhooks text rather than with the service's code.</summary>
    internal static bool SignedWith(string secret, ReceivedWebhook hook)
    {
        byte[] key = Convert.FromBase64String(secret["whsec_".Length..]);
        string expected = "v1," + Convert.ToBase64String(new HMACSHA256(key).ComputeHash(Encoding.UTF8.GetBytes($"{hook.Headers["webhook-id"]}.{hook.Headers["webhook-timestamp"]}.{hook.Body}")));
        return hook.Headers["webhook-signature"].Split(' ').Contains(expected)
            && Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(hook.Headers["webhook-timestamp"])) < 300;
    }
}
