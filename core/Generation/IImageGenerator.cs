namespace Lcm.Core.Generation;

/// <summary>What the job processor needs of an engine: validation against the model, and generation off the caller's thread.</summary>
public interface IImageGenerator
{
    void Validate(GenerationRequest request);

    Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken);
}
