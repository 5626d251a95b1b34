namespace Lcm.Engine.Loaders;

/// <summary>Where the engine keeps what it makes for itself: the built-in test model and prepared graphs.</summary>
public static class CacheDirectory
{
    /// <summary>LCM_CACHE_DIR, else $XDG_CACHE_HOME/lcm-functions, else ~/.cache/lcm-functions.</summary>
    public static string Resolve(Func<string, string?>? read = null)
    {
        read ??= Environment.GetEnvironmentVariable;
        if (read("LCM_CACHE_DIR") is { Length: > 0 } dir) return Path.GetFullPath(dir);
        string cacheHome = read("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cacheHome, "lcm-functions");
    }
}
