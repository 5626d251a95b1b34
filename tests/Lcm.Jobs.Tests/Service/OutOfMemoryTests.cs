using Lcm.Client;
using Lcm.Contracts;
using Lcm.Tests.Generation;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>A run that runs out of memory fails its job with a code at once: no retry loop, nothing poisoned, the worker serving on.</summary>
[Collection(ServiceCollection.Name)]
public sealed class OutOfMemoryTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Jobs_whose_runs_run_out_of_memory_fail_once_with_out_of_memory()
    {
        string folder = TestModels.CopyFolder(fixture.ModelPath, Directory.CreateTempSubdirectory("lcm-hog-model-").FullName);
        MemoryHogUnet.Write(folder);
        var names = fixture.NewNames();
        try
        {
            // As lcm worker composes it, batching on: the two jobs meet in one batch, which runs out, then run apart.
            await using var worker = await TestWorker.StartLocalAsync(fixture, TestWorker.Settings(names), output, folder);
            var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
            var ids = new List<string>();
            foreach (int seed in new[] { 1, 2 })
                ids.Add((await client.SubmitAsync(new JobRequest { Prompt = "too big", Width = 64, Height = 64, Steps = 1, Seed = seed })).Id);

            foreach (string id in ids)
            {
                var status = await fixture.WaitForTerminalAsync(id);
                output.WriteLine(status.Json());
                Assert.Equal((JobState.Failed, JobErrorCodes.OutOfMemory, 1), (status.Status, status.Error!.Code, status.Attempts));
                Assert.Contains("ran out of memory", status.Error.Message);
            }
            Assert.Equal(2, (await fixture.ReceiveEventsAsync(names.ResultsQueue!, 2)).Count);
            await fixture.WaitUntilEmptyAsync(names.JobsQueue);
            Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
            Assert.True(worker.IsRunning);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
