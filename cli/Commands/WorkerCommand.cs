using System.CommandLine;
using Lcm.Client;
using Lcm.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lcm.Cli;

/// <summary>
/// <c>lcm worker</c>: serves the jobs queue until Ctrl+C or SIGTERM, then gives running jobs the shutdown grace
/// to finish and hands back the rest; with <c>--health-port</c> it answers /healthz and /readyz.
/// </summary>
internal static class WorkerCommand
{
    private static readonly Option<string> Model = CliOptions.Model();
    private static readonly Option<string> Connection = CliOptions.Connection();
    private static readonly Option<int?> HealthPort = CliOptions.Int("--health-port", "Serves /healthz and /readyz on this port (else LCM_HEALTH_PORT).", "PORT");

    public static Command Create()
    {
        var command = new Command("worker", "Serves the jobs queue until Ctrl+C or SIGTERM.") { Model, Connection, HealthPort };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult args, CancellationToken cancellationToken)
    {
        string? connection = args.GetValue(Connection);
        string? model = args.GetValue(Model);
        int? healthPort = args.GetValue(HealthPort);
        if (healthPort is < 1 or > 65535) throw new UsageException($"--health-port must be in 1..65535, found {healthPort}");
        string modelPath = CliModel.Resolve(model);
        var settings = WorkerSettings.FromEnvironment();
        if (healthPort is not null) settings = settings with { HealthPort = healthPort };
        await RunWorkerAsync(CliStorage.Account(connection), settings, modelPath, cancellationToken);
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
        // The grace of running jobs plus time to hand back the rest, within the container's terminationGracePeriodSeconds.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownGrace + TimeSpan.FromSeconds(10));
        builder.Services.AddLcmJobs(settings, modelPath, account).AddLcmWorker(onReady);
        await builder.Build().RunLcmWorkerAsync(cancellationToken);
    }
}
