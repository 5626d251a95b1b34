using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lcm.Contracts;

/// <summary>
/// The service's traces and metrics, under one name ("LcmFunctions") for every project: the client's
/// submit span, the worker's job spans, the engine's stage spans. System.Diagnostics only, so nothing
/// is recorded until a listener (OpenTelemetry, in the hosts) subscribes to the name.
/// </summary>
public static class LcmTelemetry
{
    public const string Name = "LcmFunctions";
    public const string JobId = "lcm.job.id";
    public const string Model = "lcm.model";
    public const string State = "lcm.job.state";
    public const string ErrorCode = "lcm.error.code";

    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> Jobs = Meter.CreateCounter<long>("lcm.jobs", description: "Jobs that ended, by final state and error code");
    public static readonly Histogram<double> QueueTime = Meter.CreateHistogram<double>("lcm.job.queue_time", "ms", "From submit to the start of the run");
    public static readonly Histogram<double> RunTime = Meter.CreateHistogram<double>("lcm.job.run_time", "ms", "From the start of the run to its end");
    public static readonly Counter<long> Images = Meter.CreateCounter<long>("lcm.images", description: "Images made by succeeded jobs");
    public static readonly Histogram<double> StepsPerSecond = Meter.CreateHistogram<double>("lcm.unet.steps_per_second", "{step}/s", "UNet steps a second of a job's run");
    public static readonly Histogram<int> BatchImages = Meter.CreateHistogram<int>("lcm.batch.images", "{image}", "Images in one engine run (a batch of one or more jobs)");
    public static readonly Histogram<double> ColdStart = Meter.CreateHistogram<double>("lcm.engine.cold_start", "ms", "Loading (and warming up) the engine");
    public static readonly Counter<long> EventGridFailures = Meter.CreateCounter<long>("lcm.eventgrid.failures", description: "Completion events not published to Event Grid");

    /// <summary>
    /// The W3C trace context of the current activity (the submitter's), to put into a job message; nulls
    /// when there is none, or it is not W3C (a hierarchical id a worker could not continue).
    /// </summary>
    public static (string? Traceparent, string? Tracestate) CurrentContext() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? (current.Id, current.TraceStateString) : (null, null);

    /// <summary>The context a message's traceparent names; default (a new trace) when it has none or it does not parse, as W3C asks.</summary>
    public static ActivityContext ParentOf(string? traceparent, string? tracestate = null) =>
        traceparent is not null && ActivityContext.TryParse(traceparent, tracestate, isRemote: true, out var parent) ? parent : default;
}
