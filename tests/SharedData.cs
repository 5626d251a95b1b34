using Xunit;

namespace Lcm.Tests;

/// <summary>
/// Test data that lives beside the repository in a <c>shared</c> folder (<c>&lt;repo&gt;/../shared</c>)
/// rather than in it. Use from <c>[SkippableFact]</c> or <c>[SkippableTheory]</c> tests only.
/// </summary>
public static class SharedData
{
    /// <summary>
    /// The full path of <paramref name="relative"/> (a file or folder) under <c>shared</c>.
    /// Where it is missing the test is skipped, except under CI=true, where missing data
    /// must not let a test pass unnoticed, so it fails.
    /// </summary>
    public static string PathOf(string relative)
    {
        var root = FindRoot();
        var path = root is null ? null : Path.Combine(root, relative);
        if (path is not null && (File.Exists(path) || Directory.Exists(path)))
            return path;

        var message = root is null
            ? $"No 'shared' folder with clip-tokenizer/ found above {AppContext.BaseDirectory}; needed for {relative}."
            : $"Shared test data not found: {path}.";
        var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        Skip.If(!ci, message);
        throw new FileNotFoundException($"{message} (CI=true, so this fails rather than skips)", path);
    }

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (dir.Name == "shared" && Directory.Exists(Path.Combine(dir.FullName, "clip-tokenizer")))
                return dir.FullName;
            var sibling = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(sibling, "clip-tokenizer")))
                return sibling;
        }
        return null;
    }
}
