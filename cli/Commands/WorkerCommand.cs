using Lcm.Client;
using Lcm.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

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
        await RunWorkerAsync(CliStorage.Account(connection), WorkerSettings.FromEnvironment(), modelPath, cancellationToken);
        return 0;
    }

    /// <summary>The local worker as a generic host, logging to stderr like every command; <c>lcm demo</c> runs it too.</summary>
    public static async Task RunWorkerAsync(StorageAccount account, WorkerSettings settings, string modelPath, CancellationToken cancellationToken,
        Action? onReady = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(CliModel.Logging);
        // Program already turns Ctrl+C and SIGTERM into the token; the host need not announce itself.
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddLcmJobs(settings, modelPath, account).AddLcmWorker(onReady);
        await builder.Build().RunLcmWorkerAsync(cancellationToken);
    }
}
