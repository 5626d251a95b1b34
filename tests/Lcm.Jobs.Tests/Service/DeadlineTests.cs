using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Deadlines: a job not started in time ends expired without running; one running past it is canceled.</summary>
[Collection(ServiceCollection.Name)]
public sealed class DeadlineTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_job_not_started_by_its_deadline_expires_unrun_and_one_running_past_it_is_canceled()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        // Queued while no worker runs, past its one-second deadline by the time one starts.
        var late = await client.SubmitAsync(new JobRequest { Prompt = "too late", Width = 64, Height = 64, Steps = 1, Deadline = 1 });
        await Task.Delay(TimeSpan.FromSeconds(2));
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var expired = await fixture.WaitForTerminalAsync(late.Id);
        // A slow job (seconds) with a deadline it cannot meet, submitted to an idle worker that polls every 200 ms.
        var slow = await client.SubmitAsync(SlowJob.Request("too slow") with { Deadline = 1 });
        var canceled = await fixture.WaitForTerminalAsync(slow.Id);
        output.WriteLine(expired.Json());
        output.WriteLine(canceled.Json());

        Assert.Equal((JobState.Expired, JobErrorCodes.DeadlineExceeded, 0), (expired.Status, expired.Error!.Code, expired.Attempts));
        Assert.Contains("not run", expired.Error.Message);
        Assert.Equal((JobState.Canceled, JobErrorCodes.DeadlineExceeded, 1), (canceled.Status, canceled.Error!.Code, canceled.Attempts));
        Assert.Empty(await fixture.ImageBlobsAsync(slow.Id));
        var events = await fixture.ReceiveEventsAsync(names.ResultsQueue!, 2);
        Assert.Equal(["canceled", "expired"], events.Select(e => e.GetProperty("status").GetString()).Order());
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }
}
