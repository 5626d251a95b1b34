namespace Lcm.Core.Model;

/// <summary>How an engine runs its graphs and which request limits depend on the host.</summary>
public sealed record EngineOptions
{
    public ExecutionProvider ExecutionProvider { get; init; } = ExecutionProvider.Auto;
    public int CudaDeviceId { get; init; }
    /// <summary>Threads inside one ONNX Runtime run; null lets ONNX Runtime use every core.</summary>
    public int? IntraOpThreads { get; init; }
    /// <summary>Where optimised graphs are kept between starts (<see cref="PreparedModelCache"/>); null loads every graph from its file.</summary>
    public string? PreparedCacheDirectory { get; init; }
    /// <summary>Largest width or height accepted (a multiple of 8).</summary>
    public int MaxImageSize { get; init; } = Generation.GenerationLimits.DefaultMaxImageSize;

    /// <summary>
    /// Reads LCM_EXECUTION_PROVIDER (auto|cpu|cuda), LCM_CUDA_DEVICE_ID, LCM_INTRA_OP_THREADS,
    /// LCM_MAX_IMAGE_SIZE and LCM_PREPARED_CACHE (true|false; on by default, under LCM_CACHE_DIR).
    /// </summary>
    public static EngineOptions FromEnvironment(Func<string, string?>? read = null)
    {
        read ??= Environment.GetEnvironmentVariable;
        var options = new EngineOptions
        {
            PreparedCacheDirectory = Settings.ReadBool(read, "LCM_PREPARED_CACHE") == false ? null
                : Path.Combine(CacheDirectory.Resolve(read), "prepared"),
        };
        if (read("LCM_EXECUTION_PROVIDER") is { Length: > 0 } provider)
        {
            options = options with
            {
                // Matched by name: Enum.TryParse would also take "1" or "cpu,cuda" (and "7", an undefined value).
                ExecutionProvider = provider.Trim().ToLowerInvariant() switch
                {
                    "auto" => ExecutionProvider.Auto,
                    "cpu" => ExecutionProvider.Cpu,
                    "cuda" => ExecutionProvider.Cuda,
                    _ => throw new ArgumentException($"LCM_EXECUTION_PROVIDER must be auto, cpu or cuda, found '{provider}'"),
                },
            };
        }
        if (Settings.ReadInt(read, "LCM_CUDA_DEVICE_ID", 0, 64) is int device) options = options with { CudaDeviceId = device };
        if (Settings.ReadInt(read, "LCM_INTRA_OP_THREADS", 1, 1024) is int threads) options = options with { IntraOpThreads = threads };
        if (Settings.ReadInt(read, "LCM_MAX_IMAGE_SIZE", Generation.GenerationLimits.MinImageSize, 8192) is int max)
            options = options with { MaxImageSize = max - max % 8 };
        return options;
    }
}
