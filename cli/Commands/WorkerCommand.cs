using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary><c>lcm worker</c>: serves the jobs queue until Ctrl+C or SIGTERM, then finishes or hands back its messages.</summary>
internal static class WorkerCommand
{
    public static async Task<int> RunAsync(string[] argv, CancellationToken cancellationToken)
    {
        var args = new Arguments(argv);
        string? connection = args.Text("connection");
        string? model = args.Text("model");
        args.EnsureAllUsed();
        string modelPath = CliModel.Resolve(model);
        var settings = WorkerSettings.FromEnvironment();
        await LocalWorker.RunAsync(CliStorage.Account(connection), settings, modelPath, CliModel.CreateLogger("lcm.worker"), cancellationToken);
        return 0;
    }
}
