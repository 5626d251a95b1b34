using System.Diagnostics;
using Lcm.Contracts;

namespace Lcm.Jobs;

/// <summary>A job's end in the metrics and on its span: recorded once, by the worker that settled the final status.</summary>
internal static class JobTelemetry
{
    /// <summary>Records <paramref name="final"/>; the current activity is the job's span.</summary>
    public static void Ended(JobStatus final)
    {
        var span = Activity.Current;
        string state = final.Status.ToString().ToLowerInvariant();
        var tags = new TagList { { LcmTelemetry.State, state }, { LcmTelemetry.ErrorCode, final.Error?.Code } };
        LcmTelemetry.Jobs.Add(1, tags);
        span?.SetTag(LcmTelemetry.State, state);
        span?.SetTag(LcmTelemetry.ErrorCode, final.Error?.Code);
        if (final.Status == JobState.Failed) span?.SetStatus(ActivityStatusCode.Error, final.Error?.Code);
        if (final.Metrics is not { } metrics) return;
        if (metrics.QueueMs is double queueMs) LcmTelemetry.QueueTime.Record(queueMs, tags);
        if (metrics.RunMs is double runMs) LcmTelemetry.RunTime.Record(runMs, tags);
        double unetMs = metrics.StepsMs.Sum();
        if (unetMs > 0) LcmTelemetry.StepsPerSecond.Record(metrics.StepsMs.Count / (unetMs / 1000));
        if (final.Status == JobState.Succeeded) LcmTelemetry.Images.Add(final.Images.Count);
    }
}
