using System.Diagnostics;
using System.Text.Json;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Engine.Text;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests.Cli;

/// <summary>
/// A temporary folder for one CLI test class: LCM_CACHE_DIR of every spawned <c>lcm</c> (so the
/// built-in test model is made there) and room for outputs. Deleted on dispose.
/// </summary>
public sealed class CliFolder : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("lcm-cli-tests-").FullName;
    public string CacheDirectory => Path.Combine(Root, "cache");
    public string BuiltInModel => Path.Combine(CacheDirectory, BuiltInTestModel.FolderName);

    public string NewDirectory(string prefix) =>
        Directory.CreateDirectory(Path.Combine(Root, $"{prefix}-{Guid.NewGuid():N}")).FullName;

    public LcmRun Lcm(params string[] args) => Lcm(new Dictionary<string, string>(), args);

    /// <summary>Runs <c>dotnet lcm.dll ARGS</c> in <see cref="Root"/> and waits for it.</summary>
    public LcmRun Lcm(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lcm.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        // Only the settings this test chooses: no model path (so the built-in model is used), a
        // private cache, and the CPU so pixels compare with the in-process engine on any machine.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("LCM_", StringComparison.Ordinal)).ToArray())
            start.Environment.Remove(name);
        start.Environment["LCM_CACHE_DIR"] = CacheDirectory;
        start.Environment["LCM_EXECUTION_PROVIDER"] = "cpu";
        foreach (var (name, value) in environment) start.Environment[name] = value;

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // A guard against a hung child, not a timing check.
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lcm {string.Join(' ', args)} did not exit");
        }
        return new LcmRun(process.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    // The host running the tests when it is dotnet itself, else the one the SDK names, else PATH's.
    private static string DotnetHost() =>
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath!
        : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : "dotnet";
}

/// <summary>How one <c>lcm</c> process ended.</summary>
public sealed record LcmRun(int ExitCode, string Stdout, string Stderr)
{
    public static void AssertExit(int expected, LcmRun run) =>
        Assert.True(run.ExitCode == expected, $"exit {run.ExitCode}, expected {expected}\nstdout: {run.Stdout}\nstderr: {run.Stderr}");
}
