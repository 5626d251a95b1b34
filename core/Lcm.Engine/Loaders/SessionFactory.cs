using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Loaders;

/// <summary>
/// Creates the ONNX Runtime sessions of one engine. The execution provider is decided once, on the
/// first session: CUDA when it loads (CUDA 13 and cuDNN present), else the CPU with the reason logged.
/// </summary>
internal sealed class SessionFactory
{
    private readonly EngineOptions _options;
    private readonly ILogger _logger;
    private readonly PreparedModelCache? _cache;
    private readonly Int8Quantizer? _int8;
    private readonly AttentionSlicer? _slicer;

    public SessionFactory(EngineOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        (ActiveProvider, FallbackReason) = Decide();
        _cache = options.PreparedCacheDirectory is { } directory ? new PreparedModelCache(directory, logger) : null;
        if (options.Int8)
            _int8 = new Int8Quantizer(options.QuantizedModelDirectory ?? throw new InvalidOperationException("EngineOptions.QuantizedModelDirectory must be set for Int8"), logger);
        // Without a folder for the rewritten graph attention stays unsplit, and the memory estimate counts it so.
        if (AttentionSlicer.BlockTokens(options.AttentionSlicing) is not null && options.SlicedModelDirectory is { } sliced) _slicer = new AttentionSlicer(sliced, logger);
    }

    public ActiveProvider ActiveProvider { get; }

    /// <summary>Why CUDA is not in use when it was asked for or tried; null otherwise.</summary>
    public string? FallbackReason { get; }

    /// <summary>Query rows per attention block of the UNet session made so far, or null where its attention is unsplit.</summary>
    public int? AttentionBlockTokens { get; private set; }

    /// <summary>
    /// A session on a graph: from the prepared-model cache when it is on (optimised once, weights
    /// mapped from the file, no pre-packing), else straight from the file with full optimisation.
    /// With <paramref name="unet"/>, on its int8 copy (<see cref="EngineOptions.Int8"/>) with its attention
    /// split into query blocks (<see cref="EngineOptions.AttentionSlicing"/>).
    /// </summary>
    public InferenceSession Create(string modelPath, bool unet = false)
    {
        string stage = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(modelPath)))!;
        if (unet && _int8 is not null) modelPath = _int8.GetOrQuantize(modelPath);
        if (unet && _slicer is not null)
        {
            int block = AttentionSlicer.BlockTokens(_options.AttentionSlicing)!.Value;
            string sliced = _slicer.GetOrSlice(modelPath, block);
            AttentionBlockTokens = sliced == modelPath ? null : block;
            modelPath = sliced;
        }
        if (_cache is null) return Load(modelPath, Profiled(NewOptions(ActiveProvider == ActiveProvider.CUDA), stage));
        string key = $"{ActiveProvider}-{CpuFeatures()}";
        string prepared = Prepare(modelPath, key);
        try
        {
            return Load(prepared, Profiled(PreparedOptions(), stage));
        }
        catch (ModelFormatException e)
        {
            // A prepared file of the right length can still be corrupt: rebuild it once.
            _logger.LogWarning("Prepared model {Path} failed to load ({Error}); rebuilding it", prepared, e.Message);
            _cache.Invalidate(prepared);
            return Load(Prepare(modelPath, key), Profiled(PreparedOptions(), stage));
        }
    }

    private string Prepare(string modelPath, string key)
    {
        try
        {
            return _cache!.GetOrPrepare(modelPath, key, () => NewOptions(ActiveProvider == ActiveProvider.CUDA));
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelFormatException($"'{modelPath}' could not be loaded by ONNX Runtime: {e.Message}", e);
        }
    }

    private SessionOptions Profiled(SessionOptions options, string stage)
    {
        if (_options.ProfileDirectory is not { } directory) return options;
        // The prefix first: turning profiling on hands ONNX Runtime the prefix set at that moment.
        options.ProfileOutputPathPrefix = Path.Combine(directory, stage);
        options.EnableProfiling = true;
        return options;
    }

    private SessionOptions PreparedOptions()
    {
        var options = NewOptions(ActiveProvider == ActiveProvider.CUDA);
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
        // Pre-packing copies every MatMul/Conv weight into private memory: off, the weights stay mapped from the file.
        options.AddSessionConfigEntry("session.disable_prepacking", "1");
        return options;
    }

    private static InferenceSession Load(string path, SessionOptions options)
    {
        using (options)
        {
            try
            {
                return new InferenceSession(path, options);
            }
            catch (OnnxRuntimeException e)
            {
                throw new ModelFormatException($"'{path}' could not be loaded by ONNX Runtime: {e.Message}", e);
            }
        }
    }

    /// <summary>Fully optimised graphs may use kernels for this processor's instruction set, so the cache key names it.</summary>
    private static string CpuFeatures() =>
        $"{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}".ToLowerInvariant()
        + (System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "-avx512" : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "-avx2" : "");

    private (ActiveProvider, string?) Decide()
    {
        if (_options.ExecutionProvider == ExecutionProvider.Cpu) return (ActiveProvider.CPU, null);
        try
        {
            using var probe = NewOptions(useCuda: true);
            return (ActiveProvider.CUDA, null);
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            string reason = $"CUDA execution provider unavailable: {e.Message.Trim()}";
            if (_options.ExecutionProvider == ExecutionProvider.Cuda)
                throw new InvalidOperationException($"{reason} (LCM_EXECUTION_PROVIDER=cuda forbids the CPU fallback)", e);
            _logger.LogWarning("Falling back to the CPU: {Reason}", reason);
            return (ActiveProvider.CPU, reason);
        }
    }

    private SessionOptions NewOptions(bool useCuda)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (_options.IntraOpThreads is int threads) options.IntraOpNumThreads = threads;
        if (!useCuda) return options;
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = _options.CudaDeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["cudnn_conv_algo_search"] = _options.CudnnConvAlgoSearch,
                ["arena_extend_strategy"] = _options.CudaArenaExtendStrategy,
                ["do_copy_in_default_stream"] = _options.CudaCopyInDefaultStream ? "1" : "0",
            });
            options.AppendExecutionProvider_CUDA(cuda);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }
}
