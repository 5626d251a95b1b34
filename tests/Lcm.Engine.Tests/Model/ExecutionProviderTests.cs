using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Lcm.Tests.Generation;

namespace Lcm.Tests.Model;

/// <summary>Choosing the execution provider: Auto falls back to the CPU with a reason, Cuda refuses to, and the environment setting parses.</summary>
public sealed class ExecutionProviderTests(TestModels models) : IClassFixture<TestModels>
{
    private static readonly GenerationRequest Small = new() { Prompt = "a cat", Width = 64, Height = 64, Steps = 1, Seed = 3 };

    [Fact]
    public void Auto_falls_back_to_the_cpu_with_a_reason_and_cuda_refuses_to()
    {
        using var auto = LcmEngine.Load(models.Fp32Path, new EngineOptions { ExecutionProvider = ExecutionProvider.Auto });
        var cuda = new EngineOptions { ExecutionProvider = ExecutionProvider.Cuda };
        if (auto.ExecutionProvider == ActiveProvider.CUDA)
        {
            // A machine with CUDA 13 and cuDNN: no fallback, and the strict option agrees.
            Assert.Null(auto.ExecutionProviderFallbackReason);
            using var strict = LcmEngine.Load(models.Fp32Path, cuda);
            Assert.Equal("CUDA", strict.ExecutionProvider.ToString());
            return;
        }

        Assert.Equal("CPU", auto.ExecutionProvider.ToString());
        Assert.NotNull(auto.ExecutionProviderFallbackReason);
        Assert.Contains("CUDA", auto.ExecutionProviderFallbackReason);
        // The fallback engine works and matches a CPU-only engine.
        Assert.Equal(Images.Png(models.Engine(float16: false).Generate(Small)), Images.Png(auto.Generate(Small)));

        var e = Assert.Throws<InvalidOperationException>(() => LcmEngine.Load(models.Fp32Path, cuda));
        Assert.Contains("CUDA execution provider unavailable", e.Message);
        Assert.Contains("LCM_EXECUTION_PROVIDER=cuda", e.Message);
    }

    [Fact]
    public void Cpu_option_runs_on_the_cpu_without_a_fallback_reason()
    {
        var engine = models.Engine(float16: false);
        Assert.Equal("CPU", engine.ExecutionProvider.ToString());
        Assert.Null(engine.ExecutionProviderFallbackReason);
    }

    [Theory]
    [InlineData(null, ExecutionProvider.Auto)]
    [InlineData("", ExecutionProvider.Auto)]
    [InlineData("auto", ExecutionProvider.Auto)]
    [InlineData("cpu", ExecutionProvider.Cpu)]
    [InlineData("CPU", ExecutionProvider.Cpu)]
    [InlineData("cuda", ExecutionProvider.Cuda)]
    [InlineData("Cuda", ExecutionProvider.Cuda)]
    [InlineData(" cuda ", ExecutionProvider.Cuda)]
    public void FromEnvironment_reads_the_execution_provider(string? value, ExecutionProvider expected)
    {
        var options = EngineSettings.ReadEngine(name => name == "LCM_EXECUTION_PROVIDER" ? value : null);
        Assert.Equal(expected, options.ExecutionProvider);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("tensorrt")]
    [InlineData("1")]
    [InlineData("7")]
    [InlineData("cpu,cuda")]
    public void FromEnvironment_rejects_other_execution_providers(string value)
    {
        var e = Assert.Throws<ArgumentException>(() =>
            EngineSettings.ReadEngine(name => name == "LCM_EXECUTION_PROVIDER" ? value : null));
        Assert.Contains("LCM_EXECUTION_PROVIDER must be auto, cpu or cuda", e.Message);
        Assert.Contains($"'{value}'", e.Message);
    }

    [Fact]
    public void FromEnvironment_reads_the_other_settings()
    {
        var values = new Dictionary<string, string>
        {
            ["LCM_EXECUTION_PROVIDER"] = "cpu",
            ["LCM_CUDA_DEVICE_ID"] = "2",
            ["LCM_INTRA_OP_THREADS"] = "3",
            ["LCM_MAX_IMAGE_SIZE"] = "1001",
        };
        string cache = Path.Combine(Path.GetTempPath(), "lcm-settings-test");
        values["LCM_CACHE_DIR"] = cache;
        var options = EngineSettings.ReadEngine(name => values.GetValueOrDefault(name));

        Assert.Equal(new EngineOptions { ExecutionProvider = ExecutionProvider.Cpu, CudaDeviceId = 2, IntraOpThreads = 3, MaxImageSize = 1000,
            PreparedCacheDirectory = Path.Combine(cache, "prepared"), MergedModelDirectory = Path.Combine(cache, "lora"), QuantizedModelDirectory = Path.Combine(cache, "int8"),
            SlicedModelDirectory = Path.Combine(cache, "attention") }, options);
        values["LCM_PREPARED_CACHE"] = "false";
        Assert.Null(EngineSettings.ReadEngine(name => values.GetValueOrDefault(name)).PreparedCacheDirectory);
    }

    [Theory]
    [InlineData("LCM_INTRA_OP_THREADS", "0")]
    [InlineData("LCM_CUDA_DEVICE_ID", "-1")]
    [InlineData("LCM_MAX_IMAGE_SIZE", "32")]
    [InlineData("LCM_MAX_IMAGE_SIZE", "big")]
    public void FromEnvironment_rejects_bad_numbers_naming_the_setting(string name, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => EngineSettings.ReadEngine(n => n == name ? value : null));
        Assert.Contains(name, e.Message);
        Assert.Contains($"'{value}'", e.Message);
    }
}
