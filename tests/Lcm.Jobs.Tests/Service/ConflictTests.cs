using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// Messages that are not a job's own request: a replyTo naming the service's queues, a completion event
/// that lands on the jobs queue, and a second, different message with a taken id.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class ConflictTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_replyTo_naming_the_jobs_queue_fails_the_job_and_the_queue_empties()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string id = "loop-" + Guid.NewGuid().ToString("N")[..8];

        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Id = id, Prompt = "a loop", Width = 64, Height = 64, Steps = 1, ReplyTo = names.JobsQueue }));
        var status = await fixture.WaitForTerminalAsync(id);
        Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        await Task.Delay(1000);

        Assert.Equal((JobState.Failed, JobErrorCodes.InvalidReplyTo), (status.Status, status.Error!.Code));
        // A status the worker writes first says when retention deletes it, as the client's do.
        Assert.Equal(status.CreatedAt + TimeSpan.FromDays(7), status.ExpiresAt);
        Assert.Contains("own queues", status.Error.Message);
        Assert.Equal(0, await fixture.MessageCountAsync(names.JobsQueue));
        Assert.Equal(0, await fixture.MessageCountAsync(names.ResultsQueue!));
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    [Fact]
    public async Task The_client_refuses_the_services_own_queues_as_replyTo()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });

        foreach (string queue in new[] { names.JobsQueue, names.PoisonQueue, names.ResultsQueue! })
        {
            var refused = await Assert.ThrowsAsync<LcmJobException>(() => client.SubmitAsync(new JobRequest { Prompt = "a loop", ReplyTo = queue }));
            Assert.Equal((400, JobErrorCodes.InvalidReplyTo), (refused.Status, refused.ErrorCode));
        }
    }

    [Fact]
    public async Task A_completion_event_on_the_jobs_queue_is_poisoned_not_answered_with_another_event()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string id = "echo-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Id = id, Prompt = "an echo", Width = 64, Height = 64, Steps = 1 }));
        await fixture.WaitForTerminalAsync(id);
        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));

        // What a replyTo of lcm-jobs used to do: the job's own event arrives as a job message.
        await fixture.SendJsonAsync(names.JobsQueue, completed.GetRawText());
        var poisoned = Assert.Single(await fixture.ReceiveJsonAsync(names.PoisonQueue, 1));
        await Task.Delay(1000);

        Assert.StartsWith(JobErrorCodes.IdConflict, poisoned.GetProperty("reason").GetString());
        Assert.Equal(0, await fixture.MessageCountAsync(names.ResultsQueue!));
        Assert.Equal(0, await fixture.MessageCountAsync(names.JobsQueue));
        Assert.Equal(JobState.Succeeded, (await fixture.WaitForTerminalAsync(id)).Status);
    }

    [Fact]
    public async Task A_redelivery_of_a_job_that_left_its_size_to_the_defaults_is_no_conflict()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var queued = await client.SubmitAsync(new JobRequest { Prompt = "default size", Steps = 1, Seed = 2 });
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var done = await client.WaitForCompletionAsync(queued.Id, ServiceStorage.Timeout);

        // The stored request now records width and height; the message left them out.
        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(queued.Request!));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        await Task.Delay(500);

        Assert.Equal((JobState.Succeeded, 512), (done.Status, done.Request!.Width));
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    [Theory]
    [InlineData("""{"id":"ID","prompt":"someone else's prompt","width":64,"height":64,"steps":1}""")]
    [InlineData("""{"id":"ID","prompt":"a taken id","stepz":1}""")]
    public async Task A_different_message_with_a_taken_id_is_poisoned_and_leaves_the_job_as_it_was(string intruder)
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });
        var queued = await client.SubmitAsync(new JobRequest { Prompt = "the owner's prompt", Width = 64, Height = 64, Steps = 1, Seed = 3 });
        // The intruder is first in the queue, ahead of the job's own message.
        var jobs = fixture.Queue(names.JobsQueue);
        await jobs.ClearMessagesAsync();
        await fixture.SendRawAsync(names.JobsQueue, ServiceStorage.Base64(intruder.Replace("ID", queued.Id)));
        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(queued.Request!));
        await using var worker = await TestWorker.StartAsync(fixture, names, output);

        var done = await client.WaitForCompletionAsync(queued.Id, ServiceStorage.Timeout);
        var poisoned = Assert.Single(await fixture.ReceiveJsonAsync(names.PoisonQueue, 1));

        Assert.StartsWith(JobErrorCodes.IdConflict, poisoned.GetProperty("reason").GetString());
        Assert.Equal((JobState.Succeeded, "the owner's prompt", 1), (done.Status, done.Request!.Prompt, done.Attempts));
    }
}
