using Lcm.Contracts;

namespace Lcm.Engine.Loaders;

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
    /// <summary>How much disk the merged graphs may take (LCM_LORA_CACHE_MB); the least recently used go first. Null: no bound.</summary>
    public long? MergedModelMaxBytes { get; init; } = 20L * 1024 * 1024 * 1024;
    /// <summary>Largest width or height accepted (a multiple of 8).</summary>
    public int MaxImageSize { get; init; } = RequestLimits.MaxImageSize;
    /// <summary>cuDNN convolution algorithm search: HEURISTIC (default; EXHAUSTIVE adds seconds to each shape's first run), EXHAUSTIVE or DEFAULT.</summary>
    public string CudnnConvAlgoSearch { get; init; } = "HEURISTIC";
    /// <summary>How the CUDA memory arena grows: kSameAsRequested (default, no over-allocation) or kNextPowerOfTwo.</summary>
    public string CudaArenaExtendStrategy { get; init; } = "kSameAsRequested";
    /// <summary>Copies between host and GPU on the default stream (ONNX Runtime's default, safest); false lets them overlap compute.</summary>
    public bool CudaCopyInDefaultStream { get; init; } = true;
    /// <summary>One generation at <see cref="WarmUpSize"/> when the engine loads; null means on CUDA only (first-run kernel set-up moves to start-up).</summary>
    public bool? WarmUp { get; init; }
    public int WarmUpSize { get; init; } = RequestLimits.DefaultSize;
    /// <summary>Memory a run may take (LCM_MEMORY_BUDGET_MB); null: <see cref="Memory.MemoryBudget.DefaultShare"/> of the device's or host's, less the weights.</summary>
    public long? MemoryBudgetBytes { get; init; }
    /// <summary>When the VAE works in tiles (LCM_VAE_TILING): by default only where the whole image would not fit <see cref="MemoryBudgetBytes"/>.</summary>
    public Memory.VaeTilingMode VaeTiling { get; init; } = Memory.VaeTilingMode.Auto;
    /// <summary>A tiny autoencoder folder for <c>"decoder": "tiny"</c> (LCM_TINY_VAE_PATH); null: the model folder's vae_decoder_tiny/.</summary>
    public string? TinyVaePath { get; init; }
    /// <summary>
    /// A tiny autoencoder folder that previews decode with (LCM_PREVIEW_VAE_PATH); null: the tiny decoder
    /// where there is one, else the latent-to-RGB approximation.
    /// </summary>
    public string? PreviewVaePath { get; init; }
    /// <summary>
    /// Opt-in (LCM_INT8): the UNet's MatMul weights quantised to int8 when the model is prepared
    /// (<see cref="Int8Quantizer"/>, cached under <see cref="QuantizedModelDirectory"/>). Off by default:
    /// its error is measured on self-made models only (lcm bench --only int8), not yet on a real one.
    /// </summary>
    public bool Int8 { get; init; }
    /// <summary>
    /// Benchmarks only: a folder where each session writes ONNX Runtime's per-node profile, named after its
    /// graph's folder (unet_*.json, ...), when the engine is disposed. Null: off (profiling slows every run).
    /// </summary>
    public string? ProfileDirectory { get; init; }
    public string? QuantizedModelDirectory { get; init; }
    /// <summary>
    /// How the UNet's attention is split into query blocks when the model is prepared (LCM_ATTENTION_SLICING,
    /// <see cref="AttentionSlicer"/>); it takes effect only with <see cref="SlicedModelDirectory"/>, where the split graphs are cached.
    /// </summary>
    public Memory.AttentionSlicingMode AttentionSlicing { get; init; } = Memory.AttentionSlicingMode.Auto;
    public string? SlicedModelDirectory { get; init; }
}
