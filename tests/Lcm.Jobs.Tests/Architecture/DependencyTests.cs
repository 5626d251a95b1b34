using System.Text.Json;

namespace Lcm.Tests.Architecture;

/// <summary>
/// What each project may depend on, read from the restore's view of the project files
/// (obj/project.assets.json: every package and project, transitive ones included).
/// </summary>
public class DependencyTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LcmFunctions.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no LcmFunctions.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>Each library the project pulls in, as "Name" with its type (package or project).</summary>
    private static IReadOnlyList<(string Name, string Type)> Libraries(string projectFolder)
    {
        string assets = Path.Combine(RepositoryRoot(), projectFolder, "obj", "project.assets.json");
        Assert.True(File.Exists(assets), $"{assets} is missing: restore the solution first");
        using var document = JsonDocument.Parse(File.ReadAllText(assets));
        return document.RootElement.GetProperty("libraries").EnumerateObject()
            .Select(library => (library.Name.Split('/')[0], library.Value.GetProperty("type").GetString()!)).ToArray();
    }

    [Fact]
    public void The_function_app_carries_no_synthetic_models_and_no_azurite_launcher()
    {
        var libraries = Libraries("functions");
        Assert.Contains(("Lcm.Jobs", "project"), libraries);
        Assert.DoesNotContain(libraries, l => l.Name is "Lcm.SyntheticModels" or "lcm" or "Lcm.Cli");
        // Azurite's launcher lives in the CLI; no project of the app's has a type of that name.
        foreach (string project in new[] { "core/Lcm.Contracts", "core/Lcm.Client", "core/Lcm.Engine", "core/Lcm.Jobs", "functions" })
            Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(RepositoryRoot(), project), "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")),
                f => File.ReadAllText(f).Contains("class Azurite"));
    }

    [Theory]
    [InlineData("core/Lcm.Client")]
    [InlineData("core/Lcm.Contracts")]
    public void The_client_and_the_contract_carry_no_onnx_runtime_imagesharp_or_onnxsharp(string project)
    {
        var libraries = Libraries(project);
        Assert.DoesNotContain(libraries, l => l.Name.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.OrdinalIgnoreCase)
            || l.Name.StartsWith("SixLabors.", StringComparison.OrdinalIgnoreCase) || l.Name.Equals("OnnxSharp", StringComparison.OrdinalIgnoreCase)
            || l.Name is "Lcm.Engine" or "Lcm.Jobs");
    }

    [Fact]
    public void The_contract_needs_nothing_but_the_framework()
    {
        Assert.Empty(Libraries("core/Lcm.Contracts"));
    }
}
