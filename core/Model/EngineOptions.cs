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
    /// <summary>Where LoRA-merged graphs are kept between starts (<see cref="Lora.MergedModels"/>); needed only to merge LoRAs.</summary>
    public string? MergedModelDirectory { get; init; }
    /// <summary>Largest width or height accepted (a multiple of 8).</summary>
    public int MaxImageSize { get; init; } = Generation.GenerationLimits.DefaultMaxImageSize;
    /// <summary>cuDNN convolution algorithm search: HEURISTIC (default; EXHAUSTIVE adds seconds to each shape's first run), EXHAUSTIVE or DEFAULT.</summary>
    public string CudnnConvAlgoSearch { get; init; } = "HEURISTIC";
    /// <summary>How the CUDA memory arena grows: kSameAsRequested (default, no over-allocation) or kNextPowerOfTwo.</summary>
    public string CudaArenaExtendStrategy { get; init; } = "kSameAsRequested";
    /// <summary>Copies between host and GPU on the default stream (ONNX Runtime's default, safest); false lets them overlap compute.</summary>
    public bool CudaCopyInDefaultStream { get; init; } = true;
    /// <summary>One generation at <see cref="WarmUpSize"/> when the engine loads; null means on CUDA only (first-run kernel set-up moves to start-up).</summary>
    public bool? WarmUp { get; init; }
    public int WarmUpSize { get; init; } = Generation.GenerationLimits.DefaultSize;

    /// <summary>
    /// Reads LCM_EXECUTION_PROVIDER (auto|cpu|cuda), LCM_CUDA_DEVICE_ID, LCM_INTRA_OP_THREADS,
    /// LCM_MAX_IMAGE_SIZE, LCM_PREPARED_CACHE (true|false; on by default, under LCM_CACHE_DIR; LoRA merges
    /// go under LCM_CACHE_DIR/lora either way),
    /// LCM_CUDNN_CONV_ALGO_SEARCH, LCM_CUDA_ARENA_EXTEND, LCM_CUDA_COPY_IN_DEFAULT_STREAM,
    /// LCM_WARMUP (true|false) and LCM_WARMUP_SIZE.
    /// </summary>
    public static EngineOptions FromEnvironment(Func<string, string?>? read = null)
    {
        read ??= Environment.GetEnvironmentVariable;
        var options = new EngineOptions
        {
            PreparedCacheDirectory = Settings.ReadBool(read, "LCM_PREPARED_CACHE") == false ? null
                : Path.Combine(CacheDirectory.Resolve(read), "prepared"),
            MergedModelDirectory = Path.Combine(CacheDirectory.Resolve(read), "lora"),
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
        if (read("LCM_CUDNN_CONV_ALGO_SEARCH") is { Length: > 0 } search)
            options = options with { CudnnConvAlgoSearch = OneOf("LCM_CUDNN_CONV_ALGO_SEARCH", search, "HEURISTIC", "EXHAUSTIVE", "DEFAULT") };
        if (read("LCM_CUDA_ARENA_EXTEND") is { Length: > 0 } arena)
            options = options with { CudaArenaExtendStrategy = OneOf("LCM_CUDA_ARENA_EXTEND", arena, "kSameAsRequested", "kNextPowerOfTwo") };
        if (Settings.ReadBool(read, "LCM_CUDA_COPY_IN_DEFAULT_STREAM") is bool copy) options = options with { CudaCopyInDefaultStream = copy };
        if (Settings.ReadBool(read, "LCM_WARMUP") is bool warmUp) options = options with { WarmUp = warmUp };
        if (Settings.ReadInt(read, "LCM_WARMUP_SIZE", Generation.GenerationLimits.MinImageSize, 8192) is int size)
            options = options with { WarmUpSize = size - size % 8 };
        return options;
    }

    private static string OneOf(string setting, string value, params string[] allowed) =>
        allowed.FirstOrDefault(a => a.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"{setting} must be one of {string.Join(", ", allowed)}, found '{value}'");
}
