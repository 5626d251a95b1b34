using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// Faults injected into the HTTP transport of real clients on real Azurite: a status write whose
/// answer is lost after storage applied it, a lease renewal that fails once, a lease that is lost.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class InjectedFaultTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_final_status_write_whose_answer_is_lost_still_announces_the_job()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "a lost answer", Width = 64, Height = 64, Steps = 1, Seed = 4 });
        // The second write of the job's status is the final one (the first is the claim): storage applies
        // it, the answer never arrives, and the SDK's retry of the same conditional write gets 412.
        var lostAnswer = new FaultPolicy(m => m.Request.Method == RequestMethod.Put && m.Request.Uri.Path.EndsWith($"/{StorageNames.StatusContainer}/{submitted.Id}.json"),
            nth: 2, reachesStorage: true, fault: () => throw new IOException("injected: the connection dropped after storage applied the write"));
        var blobs = new BlobServiceClient(fixture.ConnectionString, WithPolicy(new BlobClientOptions(), lostAnswer));
        var processor = JobProcessor.Create(new StorageAccount(blobs, fixture.Account.Queues), names, fixture.Engine, new TestLog("processor", output));

        var outcome = await processor.ProcessAsync(await ReceiveAsync(names), CancellationToken.None);

        Assert.Equal(1, lostAnswer.Injected);
        Assert.Equal((JobOutcomeKind.Completed, JobState.Succeeded), (outcome.Kind, outcome.State));
        var status = (await fixture.Statuses.GetAsync(submitted.Id))!.Status;
        Assert.Equal((JobState.Succeeded, 1), (status.Status, status.Attempts));
        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        Assert.Equal("succeeded", completed.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_lease_renewal_that_fails_once_is_retried_and_the_message_stays_hidden()
    {
        var names = fixture.NewNames();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Prompt = "a long job" }));
        // Refused before it reaches storage: a renewal whose answer is lost after storage applied it changes the
        // pop receipt unseen, and then the lease is lost for good; the delivery after it is the at-least-once case.
        var failOnce = new FaultPolicy(m => m.Request.Method == RequestMethod.Put, nth: 1, reachesStorage: false,
            fault: () => throw new RequestFailedException(503, "injected: the server is busy"));
        var queue = new QueueClient(fixture.ConnectionString, names.JobsQueue, WithPolicy(new QueueClientOptions(), failOnce));
        var leaseTime = TimeSpan.FromSeconds(4);
        var received = (await queue.ReceiveMessageAsync(leaseTime)).Value;
        var log = new TestLog("lease", output);
        var lease = new MessageLease(queue, received, leaseTime, log);

        await using (lease.StartRenewing())
        {
            // Over twice the lease: without renewals after the failed one, the message would be back.
            for (int i = 0; i < 9; i++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                Assert.Null((await fixture.Queue(names.JobsQueue).ReceiveMessageAsync(TimeSpan.FromSeconds(30))).Value);
            }
        }

        Assert.Equal(1, failOnce.Injected);
        Assert.Equal(1, log.Count("failed; retrying"));
        Assert.False(lease.Lost.IsCancellationRequested);
        // The receipt is the latest renewal's: the worker can still delete its message.
        await fixture.Queue(names.JobsQueue).DeleteMessageAsync(received.MessageId, lease.PopReceipt);
    }

    [Fact]
    public async Task A_lease_that_is_lost_to_storage_stops_the_run()
    {
        var names = fixture.NewNames();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        await fixture.SendRawAsync(names.JobsQueue, JobMessage.ToBase64(new JobRequest { Prompt = "a job taken away" }));
        var queue = fixture.Queue(names.JobsQueue);
        var leaseTime = TimeSpan.FromSeconds(4);
        var received = (await queue.ReceiveMessageAsync(leaseTime)).Value;
        var lease = new MessageLease(queue, received, leaseTime, new TestLog("lease", output));

        await using (lease.StartRenewing())
        {
            // As when the lease ran out and another worker took and finished the message: its receipt is no longer this worker's.
            await queue.DeleteMessageAsync(received.MessageId, lease.PopReceipt);
            await Task.Delay(leaseTime, lease.Lost).ContinueWith(_ => { });
        }

        Assert.True(lease.Lost.IsCancellationRequested, "the run must be told to stop");
    }

    private async Task<JobDelivery> ReceiveAsync(StorageNames names)
    {
        var message = (await fixture.Queue(names.JobsQueue).ReceiveMessageAsync(TimeSpan.FromMinutes(1))).Value;
        return new JobDelivery(JobMessage.FromBase64(message.MessageText, message.MessageId), message.MessageId, message.DequeueCount, message.InsertedOn);
    }

    private static T WithPolicy<T>(T options, HttpPipelinePolicy policy) where T : ClientOptions
    {
        // Per retry: the SDK's own retry policy sees the fault, as it would see a real one.
        options.AddPolicy(policy, HttpPipelinePosition.PerRetry);
        return options;
    }

    /// <summary>
    /// Fails the <paramref name="nth"/> matching request with <paramref name="fault"/>: after storage has
    /// applied it (<paramref name="reachesStorage"/>, a lost answer) or before it is sent.
    /// </summary>
    private sealed class FaultPolicy(Func<HttpMessage, bool> matches, int nth, bool reachesStorage, Action fault) : HttpPipelinePolicy
    {
        private int _seen, _injected;

        public int Injected => _injected;

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            bool inject = Decide(message);
            ProcessNext(message, pipeline);
            if (inject) fault();
        }

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            bool inject = Decide(message);
            await ProcessNextAsync(message, pipeline);
            if (inject) fault();
        }

        /// <summary>Whether to fail this request once it is answered; a fault before sending is thrown here.</summary>
        private bool Decide(HttpMessage message)
        {
            if (!matches(message) || Interlocked.Increment(ref _seen) != nth) return false;
            Interlocked.Increment(ref _injected);
            if (!reachesStorage) fault();
            return true;
        }
    }
}
