using System.Diagnostics;

namespace Lcm.Cli;

/// <summary><c>lcm worker</c> processes for a benchmark, each started and waited for until ready; disposing kills those still running.</summary>
internal sealed class WorkerProcesses : IAsyncDisposable
{
    private readonly List<Process> _processes = [];

    public static async Task<WorkerProcesses> StartAsync(string model, IReadOnlyDictionary<string, string> environment, int count)
    {
        var workers = new WorkerProcesses();
        try
        {
            for (int i = 0; i < count; i++) workers._processes.Add(await StartOneAsync(model, environment));
            return workers;
        }
        catch
        {
            await workers.DisposeAsync();
            throw;
        }
    }

    /// <summary>The CPU time the running workers have used so far (user and system, all their threads).</summary>
    public TimeSpan CpuTime()
    {
        var total = TimeSpan.Zero;
        foreach (var process in _processes.Where(p => !p.HasExited))
        {
            process.Refresh();
            total += process.TotalProcessorTime;
        }
        return total;
    }

    /// <summary>SIGKILL, as a crash: nothing is handed back, its messages return when their leases run out.</summary>
    public void Kill(int index) => _processes[index].Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    private static async Task<Process> StartOneAsync(string model, IReadOnlyDictionary<string, string> environment)
    {
        var process = Process.Start(SelfProcess.StartInfo(["worker", "--model", model], environment))!;
        var ready = new TaskCompletionSource();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Worker ready", StringComparison.Ordinal) == true) ready.TrySetResult();
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(2))) != ready.Task)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.Dispose();
            throw new InvalidOperationException("a benchmark worker did not become ready");
        }
        return process;
    }
}
