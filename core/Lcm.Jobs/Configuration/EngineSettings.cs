using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Memory;
using Lcm.Engine.Pipelines;

namespace Lcm.Jobs;

/// <summary>The engine's options as settings (environment variables = app settings): the engine itself reads none.</summary>
public static class EngineSettings
{
    /// <summary>
    /// Reads LCM_EXECUTION_PROVIDER (auto|cpu|cuda), LCM_CUDA_DEVICE_ID, LCM_INTRA_OP_THREADS,
    /// LCM_MAX_IMAGE_SIZE, LCM_PREPARED_CACHE (true|false; on by default, under LCM_CACHE_DIR; LoRA merges
    /// go under LCM_CACHE_DIR/lora either way),
    /// LCM_CUDNN_CONV_ALGO_SEARCH, LCM_CUDA_ARENA_EXTEND, LCM_CUDA_COPY_IN_DEFAULT_STREAM,
    /// LCM_WARMUP (true|false), LCM_WARMUP_SIZE, LCM_LORA_CACHE_MB (disk for LoRA-merged graphs, 20480 by default)
    /// LCM_MEMORY_BUDGET_MB (memory a run may take; by default 80% of the GPU's or host's, less the weights)
    /// LCM_VAE_TILING (auto|always|off), LCM_ATTENTION_SLICING (auto|always|off; split graphs under LCM_CACHE_DIR/attention),
    /// LCM_TINY_VAE_PATH and LCM_PREVIEW_VAE_PATH (tiny autoencoder folders)
    /// and LCM_INT8 (true: the UNet's MatMul weights in int8, cached under LCM_CACHE_DIR/int8).
    /// </summary>
    public static EngineOptions ReadEngine(Func<string, string?>? read = null)
    {
        read ??= Environment.GetEnvironmentVariable;
        var options = new EngineOptions
        {
            PreparedCacheDirectory = Settings.ReadBool(read, "LCM_PREPARED_CACHE") == false ? null
                : Path.Combine(CacheDirectory.Resolve(read), "prepared"),
            MergedModelDirectory = Path.Combine(CacheDirectory.Resolve(read), "lora"),
            QuantizedModelDirectory = Path.Combine(CacheDirectory.Resolve(read), "int8"),
            SlicedModelDirectory = Path.Combine(CacheDirectory.Resolve(read), "attention"),
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
        if (Settings.ReadInt(read, "LCM_LORA_CACHE_MB", 100, 10_000_000) is int loraCacheMb) options = options with { MergedModelMaxBytes = loraCacheMb * 1024L * 1024 };
        if (Settings.ReadInt(read, "LCM_MEMORY_BUDGET_MB", 16, 100_000_000) is int budgetMb) options = options with { MemoryBudgetBytes = budgetMb * 1024L * 1024 };
        if (read("LCM_VAE_TILING") is { Length: > 0 } tiling)
            options = options with { VaeTiling = Enum.Parse<VaeTilingMode>(OneOf("LCM_VAE_TILING", tiling, "auto", "always", "off"), ignoreCase: true) };
        if (read("LCM_ATTENTION_SLICING") is { Length: > 0 } slicing)
            options = options with { AttentionSlicing = Enum.Parse<AttentionSlicingMode>(OneOf("LCM_ATTENTION_SLICING", slicing, "auto", "always", "off"), ignoreCase: true) };
        if (Settings.ReadBool(read, "LCM_INT8") is bool int8) options = options with { Int8 = int8 };
        if (read("LCM_TINY_VAE_PATH") is { Length: > 0 } tiny) options = options with { TinyVaePath = tiny };
        if (read("LCM_PREVIEW_VAE_PATH") is { Length: > 0 } preview) options = options with { PreviewVaePath = preview };
        if (Settings.ReadInt(read, "LCM_CUDA_DEVICE_ID", 0, 64) is int device) options = options with { CudaDeviceId = device };
        if (Settings.ReadInt(read, "LCM_INTRA_OP_THREADS", 1, 1024) is int threads) options = options with { IntraOpThreads = threads };
        if (Settings.ReadInt(read, "LCM_MAX_IMAGE_SIZE", RequestLimits.MinImageSize, 8192) is int max)
            options = options with { MaxImageSize = max - max % 8 };
        if (read("LCM_CUDNN_CONV_ALGO_SEARCH") is { Length: > 0 } search)
            options = options with { CudnnConvAlgoSearch = OneOf("LCM_CUDNN_CONV_ALGO_SEARCH", search, "HEURISTIC", "EXHAUSTIVE", "DEFAULT") };
        if (read("LCM_CUDA_ARENA_EXTEND") is { Length: > 0 } arena)
            options = options with { CudaArenaExtendStrategy = OneOf("LCM_CUDA_ARENA_EXTEND", arena, "kSameAsRequested", "kNextPowerOfTwo") };
        if (Settings.ReadBool(read, "LCM_CUDA_COPY_IN_DEFAULT_STREAM") is bool copy) options = options with { CudaCopyInDefaultStream = copy };
        if (Settings.ReadBool(read, "LCM_WARMUP") is bool warmUp) options = options with { WarmUp = warmUp };
        if (Settings.ReadInt(read, "LCM_WARMUP_SIZE", RequestLimits.MinImageSize, 8192) is int size)
            options = options with { WarmUpSize = size - size % 8 };
        return options;
    }


    /// <summary>LCM_MAX_INPUT_BYTES and LCM_MAX_INPUT_PIXELS.</summary>
    public static ImageInputLimits ReadInputLimits(Func<string, string?> read)
    {
        var limits = new ImageInputLimits();
        if (Settings.ReadInt(read, "LCM_MAX_INPUT_BYTES", 1024, int.MaxValue) is int bytes) limits = limits with { MaxBytes = bytes };
        if (Settings.ReadInt(read, "LCM_MAX_INPUT_PIXELS", 64, 16384) is int pixels) limits = limits with { MaxDimension = pixels };
        return limits;
    }

    /// <summary>LCM_BATCH_MAX_IMAGES and LCM_BATCH_MAX_WAIT_MS.</summary>
    public static BatchingOptions ReadBatching(Func<string, string?> read)
    {
        var options = new BatchingOptions();
        if (Settings.ReadInt(read, "LCM_BATCH_MAX_IMAGES", 1, LcmEngine.MaxUnetBatch) is int max) options = options with { MaxImages = max };
        if (Settings.ReadInt(read, "LCM_BATCH_MAX_WAIT_MS", 0, 10_000) is int wait) options = options with { MaxWait = TimeSpan.FromMilliseconds(wait) };
        return options;
    }

    private static string OneOf(string setting, string value, params string[] allowed) =>
        allowed.FirstOrDefault(a => a.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"{setting} must be one of {string.Join(", ", allowed)}, found '{value}'");
}
