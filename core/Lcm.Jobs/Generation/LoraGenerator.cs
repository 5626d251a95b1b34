using Lcm.Engine;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The job processor's generator when LoRAs are on: a request without LoRAs goes to the base
/// generator (the model's own engine, batched or not); one with LoRAs resolves their names in the
/// LoRA folder and runs on the engine of that merged variant from <see cref="MergedEngineCache"/>.
/// A LoRA that is unknown, malformed or does not fit the model fails the request with its code.
/// </summary>
internal sealed class LoraGenerator(IImageGenerator baseGenerator, LoraFolder folder, MergedEngineCache engines, ILogger logger) : IImageGenerator, IDisposable
{
    /// <summary>A merged variant has the base model's graphs and limits; which LoRAs exist is the folder's, asked per request.</summary>
    public EngineCapabilities Capabilities => baseGenerator.Capabilities;

    public void Validate(GenerationRequest request)
    {
        if (request.Loras.Count > 0) Resolve(request);
        // A merged variant has the base model's graphs and limits.
        baseGenerator.Validate(request with { Loras = [] });
    }

    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        if (request.Loras.Count == 0) return await baseGenerator.GenerateAsync(request, progress, cancellationToken);
        var files = Resolve(request);
        using var lease = await Task.Run(() => Rejecting(() => engines.Acquire(files)), cancellationToken);
        logger.LogDebug("Request with LoRAs {Loras} runs on a merged variant", string.Join(", ", request.Loras.Select(l => $"{l.Name}:{l.Scale}")));
        return await lease.Engine.GenerateAsync(request, progress, cancellationToken);
    }

    public void Dispose() => engines.Dispose();

    private IReadOnlyList<LoraFile> Resolve(GenerationRequest request) => Rejecting(() => folder.Resolve(request.Loras));

    /// <summary>LoRA problems are the request's: they fail the job with their code instead of being retried.</summary>
    private static T Rejecting<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (LoraException e)
        {
            throw new InvalidRequestException(e.Code, e.Message);
        }
    }
}
