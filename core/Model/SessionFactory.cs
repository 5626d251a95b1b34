using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Core.Model;

/// <summary>
/// Creates the ONNX Runtime sessions of one engine. The execution provider is decided once, on the
/// first session: CUDA when it loads (CUDA 13 and cuDNN present), else the CPU with the reason logged.
/// </summary>
public sealed class SessionFactory
{
    private readonly EngineOptions _options;
    private readonly ILogger _logger;

    public SessionFactory(EngineOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        (ActiveProvider, FallbackReason) = Decide();
    }

    /// <summary>The provider in use: "CUDA" or "CPU".</summary>
    public string ActiveProvider { get; }

    /// <summary>Why CUDA is not in use when it was asked for or tried; null otherwise.</summary>
    public string? FallbackReason { get; }

    public InferenceSession Create(string modelPath)
    {
        using var options = NewOptions(ActiveProvider == "CUDA");
        try
        {
            return new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelFormatException($"'{modelPath}' could not be loaded by ONNX Runtime: {e.Message}", e);
        }
    }

    private (string, string?) Decide()
    {
        if (_options.ExecutionProvider == ExecutionProvider.Cpu) return ("CPU", null);
        try
        {
            using var probe = NewOptions(useCuda: true);
            return ("CUDA", null);
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            string reason = $"CUDA execution provider unavailable: {e.Message.Trim()}";
            if (_options.ExecutionProvider == ExecutionProvider.Cuda)
                throw new InvalidOperationException($"{reason} (LCM_EXECUTION_PROVIDER=cuda forbids the CPU fallback)", e);
            _logger.LogWarning("Falling back to the CPU: {Reason}", reason);
            return ("CPU", reason);
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
                // Exhaustive search costs seconds on the first run of each shape: too slow for cold starts.
                ["cudnn_conv_algo_search"] = "HEURISTIC",
                ["arena_extend_strategy"] = "kSameAsRequested",
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
