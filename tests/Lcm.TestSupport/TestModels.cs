using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;

namespace Lcm.Tests.Generation;

/// <summary>
/// One fp32 and one fp16 self-made model folder in a temporary directory, with a CPU engine on
/// each, shared by the tests of one class (an xunit class fixture). Deleted on dispose.
/// </summary>
public sealed class TestModels : IDisposable
{
    /// <summary>
    /// The CPU always, so pixels compare exactly with sessions the tests open themselves, whatever
    /// machine runs them. Auto and CUDA have their own tests.
    /// </summary>
    public static readonly EngineOptions Cpu = new() { ExecutionProvider = ExecutionProvider.Cpu };

    private readonly Lazy<LcmEngine> _fp32, _fp16;

    public TestModels()
    {
        Root = Directory.CreateTempSubdirectory("lcm-engine-tests-").FullName;
        Fp32Path = Path.Combine(Root, "fp32");
        Fp16Path = Path.Combine(Root, "fp16");
        TestModelMaker.Write(Fp32Path, new TestModelOptions());
        TestModelMaker.Write(Fp16Path, new TestModelOptions { Float16 = true });
        _fp32 = new(() => LcmEngine.Load(Fp32Path, Cpu));
        _fp16 = new(() => LcmEngine.Load(Fp16Path, Cpu));
    }

    /// <summary>The temporary directory that holds every folder of this fixture.</summary>
    public string Root { get; }
    public string Fp32Path { get; }
    public string Fp16Path { get; }

    public string PathOf(bool float16) => float16 ? Fp16Path : Fp32Path;

    /// <summary>The fixture's engine on the fp32 or fp16 folder, loaded on first use.</summary>
    public LcmEngine Engine(bool float16) => float16 ? _fp16.Value : _fp32.Value;

    /// <summary>A fresh empty folder under <see cref="Root"/>.</summary>
    public string NewDirectory(string prefix) =>
        Directory.CreateDirectory(Path.Combine(Root, $"{prefix}-{Guid.NewGuid():N}")).FullName;

    /// <summary>A copy of the fp32 (or fp16) folder under <see cref="Root"/>, for tests that change or break files.</summary>
    public string Copy(bool float16 = false) => CopyFolder(PathOf(float16), NewDirectory(float16 ? "fp16-copy" : "fp32-copy"));

    /// <summary>Copies a model folder, for tests that change or break its files.</summary>
    public static string CopyFolder(string source, string target)
    {
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
        return target;
    }

    public void Dispose()
    {
        if (_fp32.IsValueCreated) _fp32.Value.Dispose();
        if (_fp16.IsValueCreated) _fp16.Value.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Small helpers the engine tests share.</summary>
public static class Images
{
    public static byte[] Png(GeneratedImage image) => ImageEncoder.Encode(image, OutputFormat.Png);

    public static byte[] Png(GenerationResult result, int index = 0) => Png(result.Images[index]);

    /// <summary>
    /// The same image made in a UNet batch of another size. Not byte-identical: ONNX Runtime's CPU
    /// kernels take another path for batch 1 than for 2 or more, and the tiny UNet's output then
    /// differs in the last bit in about a fifth of its values (measured on ONNX Runtime 1.31), so a
    /// pixel that sits on a rounding boundary moves by one level. A wrong seed, noise or prompt
    /// changes nearly every pixel by far more.
    /// </summary>
    public static void AssertSameImage(GeneratedImage expected, GeneratedImage actual)
    {
        Assert.Equal((expected.Width, expected.Height, expected.Seed), (actual.Width, actual.Height, actual.Seed));
        int worst = expected.Rgb.Zip(actual.Rgb, (a, b) => Math.Abs(a - b)).Max();
        int differing = expected.Rgb.Zip(actual.Rgb, (a, b) => a != b).Count(d => d);
        Assert.True(worst <= 1 && differing <= expected.Rgb.Length / 1000,
            $"{differing} of {expected.Rgb.Length} values differ, by up to {worst} levels");
    }
}

/// <summary>Records each report on the reporting thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
public sealed class RecordingProgress(Action<StepProgress>? onReport = null) : IProgress<StepProgress>
{
    public List<StepProgress> Reports { get; } = [];

    public void Report(StepProgress value)
    {
        Reports.Add(value);
        onReport?.Invoke(value);
    }
}
