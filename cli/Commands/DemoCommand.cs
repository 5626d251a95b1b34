using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary>
/// <c>lcm demo</c>: the whole service on this machine in one command. Starts Azurite (installing it
/// with npm when missing) and a worker, submits a job, waits, prints the status and the image URL,
/// saves the image, and stops what it started.
/// </summary>
internal static class DemoCommand
{
    public static async Task<int> RunAsync(string[] argv, CancellationToken cancellationToken)
    {
        var args = new Arguments(argv);
        string prompt = args.Text("prompt") ?? "a photo of a cat at sunset";
        string output = Path.GetFullPath(args.Text("output") ?? "lcm-demo-output");
        long seed = args.Long("seed") ?? 42;
        string? model = args.Text("model");
        args.EnsureAllUsed();
        string modelPath = CliModel.Resolve(model);

        Console.Error.WriteLine("starting Azurite");
        using var azurite = await Azurite.StartAsync(cancellationToken: cancellationToken);
        var account = StorageAccount.FromConnectionString(azurite.ConnectionString);
        using var stopWorker = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ready = new TaskCompletionSource();
        var settings = WorkerSettings.FromEnvironment();
        var worker = WorkerCommand.RunWorkerAsync(account, settings, modelPath, stopWorker.Token, ready.SetResult);
        try
        {
            await Task.WhenAny(ready.Task, worker);
            await (worker.IsCompleted ? worker : Task.CompletedTask);
            // The worker's queue names (LCM_JOBS_QUEUE may be set): with the defaults the job would wait on a queue nobody serves.
            var client = new Lcm.Client.LcmJobClient(account, new Lcm.Client.LcmJobClientOptions { Names = settings.Names });
            var status = await client.SubmitAsync(new JobRequest { Prompt = prompt, Seed = seed }, cancellationToken);
            Console.Error.WriteLine($"submitted job {status.Id}");
            var final = await SubmitCommand.WaitAsync(client, status.Id, TimeSpan.FromMinutes(10), cancellationToken);
            CliStorage.Print(final);
            foreach (var image in final.Images) Console.WriteLine($"image URL: {image.Url}");
            await SubmitCommand.SaveAsync(client, final, output, cancellationToken);
            return final.Status == JobState.Succeeded ? 0 : 1;
        }
        finally
        {
            await stopWorker.CancelAsync();
            await worker.ContinueWith(_ => { }, TaskScheduler.Default);
            Console.Error.WriteLine("stopped the worker and Azurite");
        }
    }
}
