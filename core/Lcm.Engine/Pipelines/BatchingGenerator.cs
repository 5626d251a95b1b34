using System.Diagnostics;
using System.Threading.Channels;
using Lcm.Contracts;
using Lcm.Engine.Models;
using Microsoft.Extensions.Logging;

namespace Lcm.Engine.Pipelines;

/// <summary>
/// Dynamic batching: requests that arrive together with the same size and steps run as one UNet
/// batch, up to <see cref="BatchingOptions.MaxImages"/> images, waiting at most
/// <see cref="BatchingOptions.MaxWait"/> for company. Each image keeps its own seeded noise, so a
/// batched request gives the same pixels as running it alone.
/// </summary>
public sealed class BatchingGenerator : IImageGenerator, IAsyncDisposable
{
    private readonly LcmEngine _engine;
    private readonly BatchingOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    public BatchingGenerator(LcmEngine engine, BatchingOptions options, ILogger logger)
    {
        _engine = engine;
        _options = options;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    public void Validate(GenerationRequest request) => _engine.Validate(request);

    public EngineCapabilities Capabilities => _engine.Capabilities;

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        var pending = new Pending(request, progress, cancellationToken, Activity.Current?.Context ?? default);
        if (!_queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(BatchingGenerator));
        return pending.Result.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    private async Task RunAsync()
    {
        var held = new List<Pending>();
        while (true)
        {
            if (held.Count == 0)
            {
                if (!await _queue.Reader.WaitToReadAsync()) return;
                while (_queue.Reader.TryRead(out var next)) held.Add(next);
            }
            var first = held[0];
            var batch = new List<Pending> { first };
            int images = first.Request.Count;
            TakeCompatible(held, batch, ref images);
            // Wait for company only while the batch has room; a full batch runs at once.
            using var wait = new CancellationTokenSource(_options.MaxWait);
            while (images < _options.MaxImages && !wait.IsCancellationRequested)
            {
                try
                {
                    if (!await _queue.Reader.WaitToReadAsync(wait.Token)) break;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                while (_queue.Reader.TryRead(out var next)) held.Add(next);
                TakeCompatible(held, batch, ref images);
            }
            held.RemoveAll(batch.Contains);
            Run(batch);
        }
    }

    private void TakeCompatible(List<Pending> held, List<Pending> batch, ref int images)
    {
        var first = batch[0].Request;
        foreach (var pending in held)
        {
            var r = pending.Request;
            if (batch.Contains(pending) || r.BatchKey != first.BatchKey) continue;
            if (images + r.Count > _options.MaxImages) break;
            // Each request fits alone (Validate); together they may not, and then they run apart.
            if (!_engine.FitsAsOneBatch([.. batch.Select(b => b.Request), r])) continue;
            batch.Add(pending);
            images += r.Count;
        }
    }

    private void Run(List<Pending> batch)
    {
        batch.RemoveAll(p =>
        {
            if (!p.CancellationToken.IsCancellationRequested) return false;
            p.Result.TrySetCanceled(p.CancellationToken);
            return true;
        });
        if (batch.Count == 0) return;
        // One job's cancel must not stop the others: the batch stops only when every job is canceled.
        using var all = new CancellationTokenSource();
        var registrations = batch.Select(p => p.CancellationToken.Register(() =>
        {
            if (batch.All(b => b.CancellationToken.IsCancellationRequested)) all.Cancel();
        })).ToArray();
        // The batch runs on this loop, outside every job's context: its span joins the first job's trace and links the others'.
        using var span = LcmTelemetry.Source.StartActivity("lcm.batch", ActivityKind.Internal, batch[0].Parent,
            links: batch.Skip(1).Select(p => new ActivityLink(p.Parent)));
        span?.SetTag("lcm.batch.jobs", batch.Count);
        try
        {
            // A batch runs its images as one chunk (at most MaxUnetBatch), so each job's steps are the batch's.
            var progress = new SynchronousProgress<StepProgress>(step => { foreach (var p in batch) p.Progress?.Report(step with { Image = 0, Images = p.Request.Count }); });
            var results = _engine.GenerateValidated(batch.Select(p => p.Request).ToArray(), progress, all.Token);
            if (batch.Count > 1) _logger.LogInformation("Ran {Jobs} jobs as one batch of {Images} images", batch.Count, batch.Sum(p => p.Request.Count));
            for (int i = 0; i < batch.Count; i++)
            {
                if (batch[i].CancellationToken.IsCancellationRequested) batch[i].Result.TrySetCanceled(batch[i].CancellationToken);
                else batch[i].Result.TrySetResult(results[i]);
            }
        }
        catch (InvalidRequestException e) when (e.Code == JobErrorCodes.OutOfMemory && batch.Count > 1)
        {
            _logger.LogWarning("A batch of {Jobs} jobs ran out of memory; running them one by one", batch.Count);
            foreach (var pending in batch) Run([pending]);
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
            {
                if (pending.CancellationToken.IsCancellationRequested) pending.Result.TrySetCanceled(pending.CancellationToken);
                else pending.Result.TrySetException(e);
            }
        }
        finally
        {
            foreach (var registration in registrations) registration.Dispose();
        }
    }

    private sealed record Pending(GenerationRequest Request, IProgress<StepProgress>? Progress, CancellationToken CancellationToken, ActivityContext Parent)
    {
        public TaskCompletionSource<GenerationResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>How requests are gathered into one UNet batch; read from LCM_BATCH_MAX_IMAGES (1 turns batching off) and LCM_BATCH_MAX_WAIT_MS.</summary>
public sealed record BatchingOptions
{
    /// <summary>Measured with `lcm bench`: 2.2x the burst throughput of one worker on a weight-bound UNet (README).</summary>
    public int MaxImages { get; init; } = 4;
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(50);

    public bool Enabled => MaxImages > 1;
}
