using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Lcm.Tests.Generation;
using Microsoft.Extensions.Logging;

namespace Lcm.Tests.Model;

/// <summary>The CUDA start options and the warm-up are settings; the warm-up also runs on the CPU when asked for.</summary>
public class GpuStartOptionsTests(TestModels models) : IClassFixture<TestModels>
{
    [Fact]
    public void Cuda_start_options_are_read_and_checked_by_name()
    {
        var options = EngineSettings.ReadEngine(n => n switch
        {
            "LCM_CUDNN_CONV_ALGO_SEARCH" => "exhaustive",
            "LCM_CUDA_ARENA_EXTEND" => "kNextPowerOfTwo",
            "LCM_CUDA_COPY_IN_DEFAULT_STREAM" => "false",
            "LCM_WARMUP" => "true",
            "LCM_WARMUP_SIZE" => "260",
            _ => null,
        });
        Assert.Equal(("EXHAUSTIVE", "kNextPowerOfTwo", false, (bool?)true, 256),
            (options.CudnnConvAlgoSearch, options.CudaArenaExtendStrategy, options.CudaCopyInDefaultStream, options.WarmUp, options.WarmUpSize));
        var defaults = EngineSettings.ReadEngine(_ => null);
        Assert.Equal(("HEURISTIC", "kSameAsRequested", true, (bool?)null), (defaults.CudnnConvAlgoSearch, defaults.CudaArenaExtendStrategy, defaults.CudaCopyInDefaultStream, defaults.WarmUp));
        Assert.Contains("LCM_CUDNN_CONV_ALGO_SEARCH", Assert.Throws<ArgumentException>(() => EngineSettings.ReadEngine(n => n == "LCM_CUDNN_CONV_ALGO_SEARCH" ? "fast" : null)).Message);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 0)]
    [InlineData(null, 0)] // by default only CUDA warms up
    public void The_warm_up_runs_when_configured(bool? warmUp, int expectedRuns)
    {
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu with { WarmUp = warmUp, WarmUpSize = 64 });
        var logger = new ListLogger();
        engine.WarmUpIfConfigured(logger);
        Assert.Equal(expectedRuns, logger.Lines.Count(l => l.StartsWith("Warm-up run at 64x64", StringComparison.Ordinal)));
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
