using System.Runtime.InteropServices;

namespace Lcm.Cli;

/// <summary>SIGTERM to another process, as <c>docker stop</c> sends it: .NET's Process.Kill only sends SIGKILL.</summary>
public static class Signals
{
    public static void Terminate(int processId)
    {
        if (Kill(processId, 15) != 0) throw new InvalidOperationException($"kill -TERM {processId} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int processId, int signal);
}
