using Lcm.Engine.Loaders;
using Lcm.SyntheticModels;

namespace Lcm.Cli;

/// <summary>Which model folder a command or worker uses: the explicit one, else LCM_MODEL_PATH, else the built-in test model.</summary>
internal static class ModelLocation
{
    public static string Resolve(string? explicitPath, Action<string>? notice = null, Func<string, string?>? read = null)
    {
        read ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(explicitPath)) return Path.GetFullPath(explicitPath);
        if (read("LCM_MODEL_PATH") is { Length: > 0 } configured) return Path.GetFullPath(configured);
        notice?.Invoke(BuiltInTestModel.Notice);
        return BuiltInTestModel.EnsureCreated(CacheDirectory.Resolve(read));
    }
}
