using Lcm.Client;
using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary>The jobs of a benchmark: all sent at once (512x512, 4 steps, seed = number), then waited for.</summary>
internal static class BenchJobs
{
    public static LcmJobClient Client(string connection, string queue) =>
        new(connection, new LcmJobClientOptions { Names = new StorageNames { JobsQueue = queue, ResultsQueue = null }, PollInterval = TimeSpan.FromMilliseconds(100) });

    /// <summary>Every job's final status; <paramref name="finishedSoFar"/> is told the count after each one finishes.</summary>
    public static async Task<JobStatus[]> RunAsync(LcmJobClient client, int jobs, Action<int>? finishedSoFar = null)
    {
        var submitted = await Task.WhenAll(Enumerable.Range(0, jobs).Select(i =>
            client.SubmitAsync(new JobRequest { Prompt = $"a photo of a cat, number {i}", Seed = i })));
        int finished = 0;
        return await Task.WhenAll(submitted.Select(async s =>
        {
            var status = await client.WaitForCompletionAsync(s.Id, TimeSpan.FromMinutes(10));
            finishedSoFar?.Invoke(Interlocked.Increment(ref finished));
            return status;
        }));
    }
}
