using System.Diagnostics;
using System.Reflection;

namespace Lcm.Tests.Infra;

/// <summary>
/// Runs the Bicep CLI that the Azure.Bicep.CommandLine.linux-x64 package restores, so the infra
/// tests need neither az nor a separate bicep install.
/// </summary>
public static class BicepCli
{
    private static readonly Lazy<string> Executable = new(FindExecutable);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string InfraDir => Path.Combine(RepoRoot, "infra");

    public static string MainBicep => Path.Combine(InfraDir, "main.bicep");

    public static (int ExitCode, string StdOut, string StdErr) Run(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(Executable.Value)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start bicep");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LcmFunctions.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no LcmFunctions.sln above {AppContext.BaseDirectory}");
    }

    private static string FindExecutable()
    {
        var packagePath = typeof(BicepCli).Assembly
            .GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "BicepPackagePath")?.Value;
        if (string.IsNullOrEmpty(packagePath) || !Directory.Exists(packagePath))
        {
            throw new InvalidOperationException(
                $"Azure.Bicep.CommandLine.linux-x64 package not found (BicepPackagePath='{packagePath}'); run dotnet restore.");
        }

        var exe = Directory.EnumerateFiles(packagePath, "bicep", SearchOption.AllDirectories).FirstOrDefault()
            ?? throw new FileNotFoundException($"no 'bicep' executable under {packagePath}");

        // NuGet extraction does not always keep the execute bit.
        if (OperatingSystem.IsWindows())
        {
            return exe;
        }
        var mode = File.GetUnixFileMode(exe);
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            File.SetUnixFileMode(exe, mode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
        return exe;
    }
}
