using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// The state of a receive loop whose queue cannot be reached: logs the first failure and the
/// recovery (not every retry), and backs off from a second up to 30 s so an outage costs little.
/// </summary>
internal sealed class ReceiveOutage
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private readonly Stopwatch _since = new();
    private int _failures;

    public bool IsActive => _failures > 0;

    /// <summary>The wait before the next try.</summary>
    public TimeSpan Failed(ILogger logger, string queue, Exception e, TimeSpan pollingInterval)
    {
        if (_failures++ == 0)
        {
            _since.Restart();
            logger.LogWarning("Receiving from {Queue} failed; retrying with backoff until storage answers: {Message}", queue, e.Message);
        }
        var backoff = TimeSpan.FromSeconds(Math.Min(Math.Pow(2, _failures - 1), MaxBackoff.TotalSeconds));
        return backoff > pollingInterval ? backoff : pollingInterval;
    }

    public void Ended(ILogger logger, string queue)
    {
        if (_failures == 0) return;
        logger.LogInformation("Receiving from {Queue} resumed after {Seconds:F0} s and {Failures} failed tries", queue, _since.Elapsed.TotalSeconds, _failures);
        _failures = 0;
    }
}
