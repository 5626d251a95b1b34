using System.Diagnostics;
using Azure;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The state of a worker whose storage cannot be reached: counts the failed receives and the jobs
/// that failed on a storage call (a worker busy with jobs receives nothing, so its receives alone
/// would not show an outage), logs the first failure and the recovery (not every retry), and backs
/// the receive loop off from a second up to 30 s so an outage costs little. A receive that works ends it.
/// </summary>
internal sealed class StorageOutage
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private readonly object _gate = new();
    private readonly Stopwatch _since = new();
    private int _failures;
    private string? _lastError;

    public bool IsActive
    {
        get { lock (_gate) return _failures > 0; }
    }

    /// <summary>What a readiness probe reports during the outage; null when there is none.</summary>
    public string? Describe(string queue)
    {
        lock (_gate)
            return _failures == 0 ? null
                : $"storage calls of the worker on {queue} have failed {_failures} time(s) over {_since.Elapsed.TotalSeconds:F0} s: {_lastError}";
    }

    /// <summary>
    /// Whether a failure is storage not answering, or answering that it cannot serve (5xx), after the SDK's own
    /// retries (then an AggregateException of them). A 4xx is an answer about the request, not an outage.
    /// </summary>
    public static bool IsStorageFailure(Exception e) =>
        e is RequestFailedException { Status: 0 or >= 500 } or HttpRequestException || e is AggregateException all && all.InnerExceptions.All(IsStorageFailure);

    /// <summary>A receive failed: the wait before the next try.</summary>
    public TimeSpan Failed(ILogger logger, string queue, Exception e, TimeSpan pollingInterval)
    {
        int failures = Noticed(logger, queue, e);
        var backoff = TimeSpan.FromSeconds(Math.Min(Math.Pow(2, failures - 1), MaxBackoff.TotalSeconds));
        return backoff > pollingInterval ? backoff : pollingInterval;
    }

    /// <summary>A storage call failed; returns the failures so far.</summary>
    public int Noticed(ILogger logger, string queue, Exception e)
    {
        int failures;
        lock (_gate)
        {
            failures = ++_failures;
            _lastError = e.Message;
            if (failures == 1) _since.Restart();
        }
        if (failures == 1) logger.LogWarning("Storage calls of the worker on {Queue} failed; receiving with backoff until storage answers: {Message}", queue, e.Message);
        return failures;
    }

    public void Ended(ILogger logger, string queue)
    {
        int failures;
        double seconds;
        lock (_gate)
        {
            (failures, seconds) = (_failures, _since.Elapsed.TotalSeconds);
            _failures = 0;
        }
        if (failures > 0) logger.LogInformation("Receiving from {Queue} resumed after {Seconds:F0} s and {Failures} failed storage calls", queue, seconds, failures);
    }
}
