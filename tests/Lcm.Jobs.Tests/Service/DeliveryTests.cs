using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Jobs;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// At-least-once delivery: a message seen twice, a transient failure retried, retries exhausted.
/// Storage is real; the only double is a generator that throws <see cref="IOException"/>.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class DeliveryTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Redelivery_of_a_finished_job_leaves_its_status_and_images_as_they_were()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        // No seed: the worker chooses one on the first attempt and must keep it.
        var request = new JobRequest { Id = "dup-" + Guid.NewGuid().ToString("N")[..8], Prompt = "a red bicycle", Width = 64, Height = 64, Steps = 2 };
        string message = JobMessage.ToBase64(request);

        await fixture.SendRawAsync(names.JobsQueue, message);
        var first = await fixture.WaitForTerminalAsync(request.Id);
        Assert.Equal(JobState.Succeeded, first.Status);
        Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        var blob = fixture.Images.Container.GetBlobClient(Assert.Single(first.Images).Blob);
        var before = (await blob.DownloadContentAsync()).Value;

        // The same message again, as a queue may deliver it after the first delivery finished.
        await fixture.SendRawAsync(names.JobsQueue, message);
        var again = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        // The event is sent again (the first may have been lost with a crash); nothing else changes.
        Assert.Equal((request.Id, "succeeded"), (again.GetProperty("id").GetString(), again.GetProperty("status").GetString()));
        var after = await fixture.WaitForTerminalAsync(request.Id);
        Assert.Equal(first.Json(), after.Json());
        Assert.Equal(1, after.Attempts);
        var reread = (await blob.DownloadContentAsync()).Value;
        Assert.Equal(before.Details.ETag, reread.Details.ETag);
        Assert.Equal(before.Content.ToArray(), reread.Content.ToArray());
        Assert.Equal([first.Images[0].Blob], await fixture.ImageBlobsAsync(request.Id));
    }

    [Fact]
    public async Task Same_message_delivered_twice_at_once_ends_in_one_consistent_status()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        // Queued by the client (no seed), then the same message a second time; the worker takes both in one batch.
        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "two deliveries", Width = 64, Height = 64, Steps = 2, Count = 2 });
        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(submitted.Request!));
        await using var worker = await TestWorker.StartAsync(fixture, names, output);

        var status = await fixture.WaitForTerminalAsync(submitted.Id);
        var events = await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        output.WriteLine(status.Json());
        Assert.Equal(JobState.Succeeded, status.Status);
        // Whether the second delivery found the job running (and ran it too) or finished depends on timing.
        Assert.InRange(status.Attempts, 1, 2);
        Assert.All(events, e => Assert.Equal("succeeded", e.GetProperty("status").GetString()));
        long seed = status.Request!.Seed!.Value;
        Assert.Equal([$"{submitted.Id}/0.png", $"{submitted.Id}/1.png"], status.Images.Select(i => i.Blob));
        Assert.Equal(status.Images.Select(i => i.Blob), await fixture.ImageBlobsAsync(submitted.Id));
        // Both deliveries used the one seed: the images are exactly what that seed gives.
        var expected = fixture.Engine.Generate(JobPlan.ToGeneration(status.Request) with { Seed = seed });
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(seed + i, status.Images[i].Seed);
            Assert.Equal(ImageEncoder.Encode(expected.Images[i], OutputFormat.Png), await fixture.DownloadImageAsync(status.Images[i].Blob));
        }
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    [Fact]
    public async Task Transient_failure_is_retried_with_the_seed_the_first_attempt_chose()
    {
        var names = fixture.NewNames();
        var flaky = new FlakyGenerator(fixture.Engine, call => call == 1);
        await using var worker = await TestWorker.StartAsync(fixture, names, output, flaky);
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });

        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "second time lucky", Width = 64, Height = 64, Steps = 2 });
        var status = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        output.WriteLine(status.Json());
        Assert.Equal(JobState.Succeeded, status.Status);
        Assert.Equal(2, status.Attempts);
        Assert.Equal(2, flaky.Requests.Count);
        long? chosen = flaky.Requests[0].Seed;
        Assert.NotNull(chosen);
        Assert.Equal(chosen, flaky.Requests[1].Seed);
        Assert.Equal(chosen, status.Request!.Seed);
        Assert.Equal(chosen, Assert.Single(status.Images).Seed);
        Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        Assert.Equal(1, worker.Log.Count("will be retried in"));
    }

    [Fact]
    public async Task Message_delivered_more_often_than_max_dequeue_count_is_poisoned_on_arrival()
    {
        var names = fixture.NewNames();
        var queue = TestWorker.FastQueue with { MaxDequeueCount = 1 };
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "handed back once too often", Width = 64, Height = 64 });
        // The first delivery is handed back at shutdown, as the host does; it still counts as a delivery.
        var first = await TestWorker.StartAsync(fixture, names, output, new DelayedGenerator(fixture.Engine, TimeSpan.FromMinutes(5)), queue, name: "first");
        await using (first)
        {
            await fixture.WaitForStatusAsync(submitted.Id, s => s.Status != JobState.Queued);
            await first.StopAsync();
        }

        await using var second = await TestWorker.StartAsync(fixture, names, output, queue: queue, name: "second");
        var record = Assert.Single(await fixture.ReceiveJsonAsync(names.PoisonQueue, 1));
        var status = await fixture.WaitForTerminalAsync(submitted.Id);

        Assert.Contains("delivered 2 times, more than maxDequeueCount (1)", record.GetProperty("reason").GetString());
        Assert.Equal((JobState.Failed, JobErrorCodes.RetriesExhausted, 1), (status.Status, status.Error!.Code, status.Attempts));
        Assert.Equal(0, second.Log.Count("running (attempt"));
        Assert.Equal("failed", Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1)).GetProperty("status").GetString());
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
    }

    [Fact]
    public async Task Failures_past_max_dequeue_count_poison_the_message_and_fail_the_job()
    {
        var names = fixture.NewNames();
        var broken = new FlakyGenerator(fixture.Engine, _ => true);
        var queue = TestWorker.FastQueue with { MaxDequeueCount = 2, VisibilityTimeout = TimeSpan.Zero };
        await using var worker = await TestWorker.StartAsync(fixture, names, output, broken, queue);
        string id = "poison-" + Guid.NewGuid().ToString("N")[..8];
        string text = ServiceStorage.Base64($$"""{"id":"{{id}}","prompt":"never drawn","width":64,"height":64}""");

        string messageId = await fixture.SendRawAsync(names.JobsQueue, text);
        var record = Assert.Single(await fixture.ReceiveJsonAsync(names.PoisonQueue, 1));
        var status = await fixture.WaitForTerminalAsync(id);

        output.WriteLine(record.ToString());
        output.WriteLine(status.Json());
        Assert.Equal(2, broken.Requests.Count);
        Assert.Equal(messageId, record.GetProperty("messageId").GetString());
        Assert.Equal(2, record.GetProperty("dequeueCount").GetInt64());
        Assert.Equal(text, record.GetProperty("originalMessage").GetString());
        Assert.Contains("failed 2 times", record.GetProperty("reason").GetString());
        Assert.Contains("simulated I/O failure", record.GetProperty("reason").GetString());

        Assert.Equal(JobState.Failed, status.Status);
        Assert.Equal(JobErrorCodes.RetriesExhausted, status.Error!.Code);
        Assert.Contains("simulated I/O failure", status.Error.Message);
        Assert.Equal(2, status.Attempts);
        Assert.Empty(status.Images);
        var failed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        Assert.Equal(("failed", "retries_exhausted"),
            (failed.GetProperty("status").GetString(), failed.GetProperty("error").GetProperty("code").GetString()));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        Assert.True(worker.IsRunning);
    }
}
