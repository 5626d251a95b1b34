namespace Lcm.Tests;

/// <summary>
/// Reference data the tests read: the real CLIP BPE files with their licence and reference
/// tokenizations, and diffusers' LCM schedule vectors, copied from the workspace's shared folder
/// into tests/data so a fresh clone runs every test on its own.
/// </summary>
public static class SharedData
{
    /// <summary>The full path of <paramref name="relative"/> under tests/data, copied beside the test assembly.</summary>
    public static string PathOf(string relative)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "data", relative);
        return File.Exists(path) || Directory.Exists(path) ? path
            : throw new FileNotFoundException($"test data {relative} is missing from {Path.Combine(AppContext.BaseDirectory, "data")}; it is copied from tests/data at build", path);
    }
}
