using Lcm.Engine.Models;

namespace Lcm.Engine.Pipelines;

/// <summary>What the job processor needs of an engine: validation against the model, and generation off the caller's thread.</summary>
public interface IImageGenerator
{
    void Validate(GenerationRequest request);

    /// <summary>The kind of model behind it, whose guidance default fills in requests without one.</summary>
    ModelKind Kind { get; }

    Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken);
}
