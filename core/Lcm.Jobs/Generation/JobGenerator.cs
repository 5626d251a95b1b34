using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// What jobs run on, the same in <c>lcm worker</c> and the function app: requests naming LoRAs go to a
/// merged engine, the rest to the loaded engine behind dynamic batching (when it is on).
/// </summary>
internal sealed class JobGenerator : IImageGenerator, IAsyncDisposable
{
    private readonly BatchingGenerator? _batching;
    private readonly LoraGenerator _generator;

    public JobGenerator(LcmEngine engine, WorkerSettings settings, ILogger logger)
    {
        _batching = settings.Batching.Enabled ? new BatchingGenerator(engine, settings.Batching, logger) : null;
        _generator = new LoraGenerator((IImageGenerator?)_batching ?? engine, new LoraFolder(settings.Lora.Folder),
            new MergedEngineCache(settings.Lora.CacheSize, loras => LcmEngine.Load(engine.Model.Root, settings.Engine, logger, loras)), logger);
    }

    public EngineCapabilities Capabilities => _generator.Capabilities;

    public void Validate(GenerationRequest request) => _generator.Validate(request);

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken) =>
        _generator.GenerateAsync(request, progress, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _generator.Dispose();
        if (_batching is not null) await _batching.DisposeAsync();
    }
}
