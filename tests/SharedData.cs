namespace Lcm.Tests;

/// <summary>
/// Finds the test data in <c>../shared</c> beside the repository. Under CI a missing file fails
/// the test; elsewhere the test is skipped with the reason.
/// </summary>
public static class SharedData
{
    public static string PathOf(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", relative);
            if (File.Exists(candidate)) return candidate;
        }
        string message = $"shared test data '{relative}' not found beside the repository (expected ../shared/{relative})";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new FileNotFoundException(message);
        Skip.If(true, message);
        return "";
    }
}
