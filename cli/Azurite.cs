using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Lcm.Cli;

/// <summary>
/// Runs the Azurite storage emulator (the npm package pinned in the repository's package.json) on
/// free loopback ports, in memory. Used by the tests, the benchmarks and <c>lcm demo</c>.
/// Installs the npm packages first when they are missing.
/// </summary>
public sealed class Azurite : IDisposable
{
    public const string AccountName = "devstoreaccount1";
    // Azurite's well-known development key: public, the same for everyone.
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process _process;

    private Azurite(Process process, int blobPort, int queuePort)
    {
        _process = process;
        BlobPort = blobPort;
        QueuePort = queuePort;
    }

    public int BlobPort { get; }
    public int QueuePort { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{BlobPort}/{AccountName};QueueEndpoint=http://127.0.0.1:{QueuePort}/{AccountName};";

    /// <summary>Starts Azurite and waits until its blob and queue ports accept connections.</summary>
    public static async Task<Azurite> StartAsync(string? searchFrom = null, CancellationToken cancellationToken = default)
    {
        string root = FindPackageRoot(searchFrom ?? Environment.CurrentDirectory);
        string script = Path.Combine(root, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script)) await InstallAsync(root, cancellationToken);
        int blobPort = FreePort(), queuePort = FreePort(), tablePort = FreePort();
        var start = new ProcessStartInfo("node")
        {
            ArgumentList =
            {
                script, "--silent", "--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl",
                "--blobHost", "127.0.0.1", "--blobPort", $"{blobPort}",
                "--queueHost", "127.0.0.1", "--queuePort", $"{queuePort}",
                "--tableHost", "127.0.0.1", "--tablePort", $"{tablePort}",
            },
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node for Azurite");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var azurite = new Azurite(process, blobPort, queuePort);
        try
        {
            await azurite.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return azurite;
        }
        catch
        {
            azurite.Dispose();
            throw;
        }
    }

    /// <summary>Stops Azurite. SIGTERM does not always end it, so it is killed outright; its data was in memory anyway.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    private async Task WaitUntilListeningAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        foreach (int port in new[] { BlobPort, QueuePort })
        {
            while (true)
            {
                if (_process.HasExited) throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode} while starting");
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                    break;
                }
                catch (SocketException) when (deadline.Elapsed < timeout)
                {
                    await Task.Delay(100, cancellationToken);
                }
            }
        }
    }

    private static async Task InstallAsync(string root, CancellationToken cancellationToken)
    {
        var npm = new ProcessStartInfo("npm") { ArgumentList = { "ci", "--no-audit", "--no-fund" }, WorkingDirectory = root, UseShellExecute = false };
        using var process = Process.Start(npm) ?? throw new InvalidOperationException("could not run npm; install Node.js to use Azurite");
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0) throw new InvalidOperationException($"'npm ci' in {root} failed with exit code {process.ExitCode}");
    }

    /// <summary>The folder whose package.json pins Azurite: the repository root, found from the given folder or the program's.</summary>
    private static string FindPackageRoot(string from)
    {
        foreach (string start in new[] { from, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
            {
                string package = Path.Combine(dir.FullName, "package.json");
                if (File.Exists(package) && File.ReadAllText(package).Contains("\"azurite\"", StringComparison.Ordinal)) return dir.FullName;
            }
        }
        throw new InvalidOperationException("no package.json with Azurite found above the working folder; run from the LcmFunctions repository");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
