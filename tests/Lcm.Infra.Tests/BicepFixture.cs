using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace Lcm.Tests.Infra;

/// <summary>
/// Builds and lints infra/main.bicep once per test run, and evaluates it offline for a few
/// parameter sets with `bicep snapshot`, which expands modules, conditions and loops into the
/// resources a deployment would create (runtime values such as principal ids stay expressions).
/// </summary>
public sealed class BicepFixture : IDisposable
{
    public const string SubscriptionId = "00000000-0000-0000-0000-000000000001";
    public const string ResourceGroup = "rg-lcm-test";

    private readonly string _workDir = Path.Combine(Path.GetTempPath(), "lcm-bicep-" + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentDictionary<string, Lazy<JsonArray>> _snapshots = new();

    public BicepFixture()
    {
        Directory.CreateDirectory(_workDir);

        Build = BicepCli.Run(BicepCli.InfraDir, "build", BicepCli.MainBicep, "--stdout");
        Lint = BicepCli.Run(BicepCli.InfraDir, "lint", BicepCli.MainBicep);
        Template = Build.ExitCode == 0 ? JsonNode.Parse(Build.StdOut)!.AsObject() : new JsonObject();
    }

    public (int ExitCode, string StdOut, string StdErr) Build { get; }

    public (int ExitCode, string StdOut, string StdErr) Lint { get; }

    /// <summary>The compiled ARM template.</summary>
    public JsonObject Template { get; }

    /// <summary>
    /// Resources predicted for main.bicep with the given parameter assignments
    /// (bicepparam syntax, one per line).
    /// </summary>
    public JsonArray Snapshot(string name, params string[] paramLines) =>
        _snapshots.GetOrAdd(name, _ => new Lazy<JsonArray>(() => RunSnapshot(name, paramLines))).Value;

    private JsonArray RunSnapshot(string name, string[] paramLines)
    {
        // bicepparam files must point at the template with a relative path.
        var usingPath = Path.GetRelativePath(_workDir, BicepCli.MainBicep).Replace('\\', '/');
        var paramFile = Path.Combine(_workDir, name + ".bicepparam");
        File.WriteAllLines(paramFile, new[] { $"using '{usingPath}'" }.Concat(paramLines));

        var result = BicepCli.Run(_workDir, "snapshot", paramFile,
            "--subscription-id", SubscriptionId,
            "--resource-group", ResourceGroup,
            "--location", "westus3");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"bicep snapshot {name} failed:\n{result.StdOut}\n{result.StdErr}");
        }

        var snapshot = JsonNode.Parse(File.ReadAllText(Path.Combine(_workDir, name + ".snapshot.json")))!;
        return snapshot["predictedResources"]!.AsArray();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_workDir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
