using System.Diagnostics;
using Lcm.Contracts;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Pipelines;

/// <summary>One run of the pipeline: its ONNX Runtime options, cancellation and progress, and where its time went.</summary>
internal sealed class PipelineRun(RunOptions options, IProgress<StepProgress>? progress, CancellationToken cancellationToken, int steps)
{
    private readonly Stopwatch _total = Stopwatch.StartNew();
    private double _ortMs;

    // Fields, so that a stage's time can be passed by reference to Ort.
    public double TokenizeMs, TextEncoderMs, VaeEncoderMs, VaeDecoderMs;
    public readonly double[] UnetStepMs = new double[steps];

    public RunOptions Options => options;
    public CancellationToken CancellationToken => cancellationToken;

    /// <summary>
    /// Runs an ONNX Runtime stage as the span <paramref name="span"/>, adding its time to <paramref name="stageMs"/>
    /// and to the time inside ONNX Runtime.
    /// </summary>
    public T Ort<T>(string span, ref double stageMs, Func<T> run, int? step = null)
    {
        using var activity = LcmTelemetry.Source.StartActivity(span);
        if (step is not null) activity?.SetTag("lcm.step", step);
        long start = Stopwatch.GetTimestamp();
        T result = run();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        stageMs += ms;
        _ortMs += ms;
        return result;
    }

    private int _firstImage, _images = 1, _promptsEncoded, _promptsReused, _unetBindings, _unetBindingsReused;

    /// <summary>Counts whether a batch's UNet inputs were bound for it or kept from the last batch.</summary>
    public void UnetInputs(bool bound)
    {
        if (bound) _unetBindings++;
        else _unetBindingsReused++;
    }

    /// <summary>Counts how the prompts came (encoded or reused) and returns their embeddings.</summary>
    public TextEmbeddings Prompts(EncodedPrompts prompts)
    {
        _promptsEncoded += prompts.Encoded;
        _promptsReused += prompts.Reused;
        return prompts.Embeddings;
    }

    /// <summary>The images whose steps come next: from <paramref name="firstImage"/> of <paramref name="images"/>.</summary>
    public void StartChunk(int firstImage, int images) => (_firstImage, _images) = (firstImage, images);

    public void ReportStep(int step) =>
        progress?.Report(new StepProgress(step, UnetStepMs.Length, _total.Elapsed) { Image = _firstImage, Images = _images });

    public GenerationTimings Timings() => new()
    {
        TokenizeMs = TokenizeMs,
        TextEncoderMs = TextEncoderMs,
        UnetStepMs = UnetStepMs,
        VaeDecoderMs = VaeDecoderMs,
        VaeEncoderMs = VaeEncoderMs,
        TotalMs = _total.Elapsed.TotalMilliseconds,
        OrtMs = _ortMs,
        PromptsEncoded = _promptsEncoded,
        PromptsReused = _promptsReused,
        UnetBindings = _unetBindings,
        UnetBindingsReused = _unetBindingsReused,
    };
}
