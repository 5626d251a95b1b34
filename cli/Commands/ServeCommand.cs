using System.CommandLine;
using Lcm.Jobs;
using Lcm.Realtime;
using Microsoft.AspNetCore.Builder;

namespace Lcm.Cli;

/// <summary><c>lcm serve</c>: the real-time server (the page and /v1/realtime) on this machine until Ctrl+C or SIGTERM.</summary>
internal static class ServeCommand
{
    private static readonly Option<string> Model = CliOptions.Model();
    private static readonly Option<int?> Port = CliOptions.Int("--port", "The port to listen on (8080 by default).", "PORT");
    private static readonly Option<string> Host = CliOptions.Text("--host", "The address to listen on (localhost by default; 0.0.0.0 for every interface).", "ADDRESS");

    public static Command Create()
    {
        var command = new Command("serve", "Serves real-time generation: the page at / and the WebSocket /v1/realtime.") { Model, Port, Host };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult args, CancellationToken cancellationToken)
    {
        int port = args.GetValue(Port) ?? 8080;
        if (port is < 1 or > 65535) throw new UsageException($"--port must be in 1..65535, found {port}");
        string host = args.GetValue(Host) ?? "localhost";
        string modelPath = CliModel.Resolve(args.GetValue(Model));
        await using var app = RealtimeApp.Build(modelPath, $"http://{host}:{port}", RealtimeOptions.Read(Environment.GetEnvironmentVariable),
            EngineSettings.ReadEngine(), CliModel.Logging);
        await app.StartAsync(cancellationToken);
        await Console.Error.WriteLineAsync($"lcm serve: open http://{host}:{port}/ (WebSocket ws://{host}:{port}/v1/realtime); Ctrl+C stops");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: the sessions are told (server_shutdown) as the host stops.
        }
        await app.StopAsync(CancellationToken.None);
        return 0;
    }
}
