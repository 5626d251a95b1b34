using Azure;
using Lcm.Client;
using Lcm.Jobs;

namespace Lcm.Functions;

/// <summary>
/// <c>GET /api/health</c> without the HTTP: 200 when the engine is loaded and the jobs queue answers,
/// 503 with what is wrong otherwise. Storage is asked with a short deadline, since the SDK's own
/// retries would keep an unanswered probe waiting for many seconds.
/// </summary>
public sealed class HealthApi(EngineWarmUp warmUp, JobQueues queues)
{
    private static readonly TimeSpan StorageDeadline = TimeSpan.FromSeconds(5);

    public async Task<ApiResult> GetAsync(CancellationToken cancellationToken)
    {
        var engine = warmUp.ExecutionProvider is { } provider
            ? new EngineHealth(true, provider)
            : new EngineHealth(false, null, "the engine is still loading (or failed to load: see the host's log)");
        var storage = await ProbeStorageAsync(cancellationToken);
        bool healthy = engine.Loaded && storage.Reachable && storage.Error is null;
        return new ApiResult(healthy ? 200 : 503, new { status = healthy ? "healthy" : "unhealthy", engine, storage });
    }

    private async Task<StorageHealth> ProbeStorageAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StorageDeadline);
        try
        {
            var properties = await queues.Jobs.GetPropertiesAsync(deadline.Token);
            return new StorageHealth(true, queues.Jobs.Name, properties.Value.ApproximateMessagesCount);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return new StorageHealth(true, queues.Jobs.Name, null, $"the queue '{queues.Jobs.Name}' does not exist (the app creates it at start)");
        }
        catch (Exception e) when (StorageOutage.IsStorageFailure(e) || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            string reason = e is OperationCanceledException ? $"no answer within {StorageDeadline.TotalSeconds:F0} s" : e.Message;
            return new StorageHealth(false, queues.Jobs.Name, null, reason);
        }
        catch (RequestFailedException e)
        {
            // Storage answered, but refuses the app (a missing role, a firewall rule): reachable, not healthy.
            return new StorageHealth(true, queues.Jobs.Name, null, $"storage refused reading the queue: {e.Status} {e.ErrorCode}");
        }
    }

    private sealed record EngineHealth(bool Loaded, string? ExecutionProvider, string? Error = null);

    private sealed record StorageHealth(bool Reachable, string JobsQueue, int? QueuedMessages, string? Error = null);
}
