using Lcm.Engine.Models;

namespace Lcm.Engine.Pipelines;

/// <summary>What the job processor needs of an engine: validation against the model, and generation off the caller's thread.</summary>
public interface IImageGenerator
{
    /// <summary>Checks a request against the model; throws <see cref="InvalidRequestException"/>. The one check a request gets.</summary>
    void Validate(GenerationRequest request);

    /// <summary>What the model behind it can generate: the limits that <see cref="Validate"/> checks.</summary>
    EngineCapabilities Capabilities { get; }

    /// <summary>The kind of model behind it, whose guidance default fills in requests without one.</summary>
    ModelKind Kind => Capabilities.Kind;

    /// <summary>Generates a request that has passed <see cref="Validate"/>; it is not checked again.</summary>
    Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken);
}
