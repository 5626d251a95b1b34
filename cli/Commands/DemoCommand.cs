using System.CommandLine;
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
    private static readonly Option<string> Prompt = CliOptions.Text("--prompt", "What to draw (a photo of a cat at sunset by default).");
    private static readonly Option<long?> Seed = CliOptions.Long("--seed", "The seed (42 by default).", "S");
    private static readonly Option<string> Output = CliOptions.Text("--output", "The folder to save the image to (lcm-demo-output by default).", "DIR");
    private static readonly Option<string> Model = CliOptions.Model();

    public static Command Create()
    {
        var command = new Command("demo", "The whole service on this machine: Azurite, a worker, one job and its image.") { Prompt, Seed, Output, Model };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult args, CancellationToken cancellationToken)
    {
        string prompt = args.GetValue(Prompt) ?? "a photo of a cat at sunset";
        string output = Path.GetFullPath(args.GetValue(Output) ?? "lcm-demo-output");
        long seed = args.GetValue(Seed) ?? 42;
        string? model = args.GetValue(Model);
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
