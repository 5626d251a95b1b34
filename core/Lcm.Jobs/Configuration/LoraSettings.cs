using Lcm.Contracts;

namespace Lcm.Jobs;

/// <summary>LCM_LORA_PATH (the folder jobs' LoRA names resolve in) and LCM_LORA_CACHE_SIZE (merged variants a worker keeps loaded).</summary>
public sealed record LoraSettings
{
    /// <summary>Null: no LoRA folder, so every job that names a LoRA fails with <c>unknown_lora</c>.</summary>
    public string? Folder { get; init; }

    /// <summary>Each variant is a loaded engine (GPU memory on CUDA): a few, not dozens.</summary>
    public int CacheSize { get; init; } = 2;

    public static LoraSettings FromEnvironment(Func<string, string?> read)
    {
        var settings = new LoraSettings { Folder = read("LCM_LORA_PATH") is { Length: > 0 } folder ? Path.GetFullPath(folder) : null };
        if (Settings.ReadInt(read, "LCM_LORA_CACHE_SIZE", 1, 16) is int size) settings = settings with { CacheSize = size };
        return settings;
    }
}
