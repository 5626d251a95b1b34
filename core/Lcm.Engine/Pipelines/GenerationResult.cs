using Lcm.Engine.Imaging;

namespace Lcm.Engine.Pipelines;

/// <summary>Where the time of one request went, in milliseconds. A batch shares its stage times.</summary>
public sealed record GenerationTimings
{
    public double TokenizeMs { get; init; }
    public double TextEncoderMs { get; init; }
    public IReadOnlyList<double> UnetStepMs { get; init; } = [];
    public double VaeDecoderMs { get; init; }
    /// <summary>Image-to-image only: encoding the init images.</summary>
    public double VaeEncoderMs { get; init; }
    public double TotalMs { get; init; }
    /// <summary>Time spent inside ONNX Runtime runs; TotalMs minus this is the engine's own overhead.</summary>
    public double OrtMs { get; init; }
    /// <summary>Prompts and negative prompts that ran through the text encoders in this run (each distinct text once).</summary>
    public int PromptsEncoded { get; init; }
    /// <summary>Prompts whose embeddings came from an earlier run instead (<c>TextEncoderMs</c> does not grow for them).</summary>
    public int PromptsReused { get; init; }
    /// <summary>UNet batches of this run whose inputs were converted and bound for it.</summary>
    public int UnetBindings { get; init; }
    /// <summary>UNet batches that took the bound inputs of the run before, having the same shape and conditioning.</summary>
    public int UnetBindingsReused { get; init; }
}

public sealed record GenerationResult(IReadOnlyList<GeneratedImage> Images, IReadOnlyList<string> Warnings, GenerationTimings Timings);

/// <summary>Reported after each denoising step of the images from <see cref="Image"/> on (of <see cref="Images"/>), which run together.</summary>
public readonly record struct StepProgress(int Step, int Steps, TimeSpan Elapsed)
{
    public int Image { get; init; }
    public int Images { get; init; } = 1;
}
