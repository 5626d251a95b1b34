using System.Diagnostics;
using System.Text;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// The <c>lcm</c> program as a separate process (<c>dotnet lcm.dll ...</c> from the test's output
/// folder), with an environment cleared of the caller's LCM_* and storage settings.
/// </summary>
public sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly ITestOutputHelper? _output;

    private CliProcess(Process process, ITestOutputHelper? output)
    {
        _process = process;
        _output = output;
    }

    public string Stdout
    {
        get { lock (_stdout) return _stdout.ToString(); }
    }

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public static CliProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null, ITestOutputHelper? output = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lcm.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        foreach (string key in start.Environment.Keys.ToArray())
            if (key.StartsWith("LCM_", StringComparison.Ordinal) || key.StartsWith("AzureWebJobsStorage", StringComparison.Ordinal))
                start.Environment.Remove(key);
        start.Environment["LCM_EXECUTION_PROVIDER"] = "cpu";
        start.Environment["LCM_MEMORY_BUDGET_MB"] = SlowJob.MemoryBudgetMb.ToString();
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;

        var process = new Process { StartInfo = start };
        var cli = new CliProcess(process, output);
        process.OutputDataReceived += (_, e) => cli.Append(cli._stdout, "out", e.Data);
        process.ErrorDataReceived += (_, e) => cli.Append(cli._stderr, "err", e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>
    /// <c>lcm worker</c> on the given connection and queues, with the model and host.json the tests use,
    /// plus <paramref name="settings"/> (LCM_* variables) and <paramref name="args"/>.
    /// </summary>
    public static CliProcess StartWorker(string connection, StorageNames names, string modelPath, ITestOutputHelper? output,
        IReadOnlyDictionary<string, string>? settings = null, IEnumerable<string>? args = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["LCM_MODEL_PATH"] = modelPath,
            ["LCM_JOBS_QUEUE"] = names.JobsQueue,
            ["LCM_RESULTS_QUEUE"] = names.ResultsQueue!,
            ["LCM_HOST_JSON"] = Path.Combine(AppContext.BaseDirectory, "host.json"),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) environment[key] = value;
        return Start(["worker", "--connection", connection, .. args ?? []], environment, output: output);
    }

    /// <summary>Runs to the end; the timeout only stops a hung process from hanging the test.</summary>
    public static async Task<CliProcess> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null, ITestOutputHelper? output = null, TimeSpan? timeout = null)
    {
        var cli = Start(args, environment, workingDirectory, output);
        await cli.WaitForExitAsync(timeout ?? ServiceStorage.Timeout);
        return cli;
    }

    public int ExitCode => _process.ExitCode;

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"lcm did not exit within {timeout}; stderr:\n{Stderr}");
        }
        // WaitForExitAsync returns once the streams are drained, so the output is complete.
    }

    /// <summary>
    /// Until stderr holds <paramref name="text"/>: the console logger writes from a queue of its own,
    /// so a line may come after the storage write it reports.
    /// </summary>
    public async Task WaitForStderrAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stderr.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"lcm did not write \"{text}\" within {timeout}; stderr:\n{Stderr}");
            await Task.Delay(20);
        }
    }

    /// <summary>SIGKILL, as a crash or an evicted container: no handler runs, nothing is handed back.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, as <c>docker stop</c> or a scale-in sends: the worker hands its messages back and exits.</summary>
    public void Terminate() => Lcm.Cli.Signals.Terminate(_process.Id);

    public void Dispose()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    private void Append(StringBuilder buffer, string stream, string? line)
    {
        if (line is null) return;
        lock (buffer) buffer.AppendLine(line);
        TestLog.Write(_output, $"lcm {stream}: {line}");
    }
}
