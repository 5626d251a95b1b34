using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Lcm.Cli;

/// <summary>
/// Runs the Azurite storage emulator (the npm package pinned in the repository's package.json) on
/// free loopback ports, in memory or on disk. Used by the tests, the benchmarks and <c>lcm demo</c>.
/// Installs the npm packages first when they are missing.
/// </summary>
public sealed class Azurite : IDisposable
{
    public const string AccountName = "devstoreaccount1";
    // Azurite's well-known development key: public, the same for everyone.
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly string _root;
    private readonly string? _location;
    private readonly int _tablePort;
    private Process _process;

    private Azurite(string root, string? location, int blobPort, int queuePort, int tablePort)
    {
        (_root, _location, BlobPort, QueuePort, _tablePort) = (root, location, blobPort, queuePort, tablePort);
        _process = Launch();
    }

    public int BlobPort { get; }
    public int QueuePort { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{BlobPort}/{AccountName};QueueEndpoint=http://127.0.0.1:{QueuePort}/{AccountName};";

    /// <summary>
    /// Starts Azurite and waits until its blob and queue ports accept connections. With
    /// <paramref name="location"/> its data lives on disk there, so <see cref="RestartAsync"/> keeps it.
    /// </summary>
    public static async Task<Azurite> StartAsync(string? searchFrom = null, string? location = null, CancellationToken cancellationToken = default)
    {
        string root = FindPackageRoot(searchFrom ?? Environment.CurrentDirectory);
        if (!File.Exists(Script(root))) await InstallAsync(root, cancellationToken);
        var azurite = new Azurite(root, location, FreePort(), FreePort(), FreePort());
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

    /// <summary>
    /// Stops Azurite, as an outage does, without starting it again. SIGTERM first, so that Azurite writes
    /// what it acknowledged to disk (it saves every 5 s otherwise, and real storage loses no acknowledged
    /// write); a kill if it lingers.
    /// </summary>
    public void Stop()
    {
        if (!_process.HasExited)
        {
            Signals.Terminate(_process.Id);
            _process.WaitForExit(10_000);
        }
        Kill();
    }

    /// <summary>Starts a stopped Azurite again on the same ports (and, with a location, the same data).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        Kill();
        _process.Dispose();
        _process = Launch();
        await WaitUntilListeningAsync(TimeSpan.FromSeconds(60), cancellationToken);
    }

    private static string Script(string root) => Path.Combine(root, "node_modules", "azurite", "dist", "src", "azurite.js");

    private Process Launch()
    {
        var start = new ProcessStartInfo("node")
        {
            ArgumentList =
            {
                Script(_root), "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl",
                "--blobHost", "127.0.0.1", "--blobPort", $"{BlobPort}",
                "--queueHost", "127.0.0.1", "--queuePort", $"{QueuePort}",
                "--tableHost", "127.0.0.1", "--tablePort", $"{_tablePort}",
            },
            WorkingDirectory = _root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_location is null) start.ArgumentList.Add("--inMemoryPersistence");
        else
        {
            start.ArgumentList.Add("--location");
            start.ArgumentList.Add(_location);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node for Azurite");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Stops Azurite. SIGTERM does not always end it, so it is killed outright.</summary>
    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
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

    /// <summary>A loopback port that is free now, for a listener about to start (Azurite's, a worker's health endpoint).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
