using System.Diagnostics;
using System.Text.Json;
using Azure;
using Azure.Messaging;
using Azure.Messaging.EventGrid;
using Lcm.Contracts;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// Publishes each job's completion event to an Event Grid topic as a CloudEvent (type
/// <c>LcmFunctions.Job.{State}</c>, subject <c>jobs/{id}</c>, id <c>{id}.completed</c> as the webhook's, so a
/// subscriber deduplicates a republished one). The event is news about a finished job: a publish that
/// fails or times out is logged and counted, never the job's failure.
/// </summary>
public sealed class EventGridPublisher(EventGridPublisherClient client, TimeSpan timeout, ILogger logger)
{
    public const string Source = "LcmFunctions";

    /// <summary>A publisher on the configured topic, or null when none is configured.</summary>
    public static EventGridPublisher? Create(EventGridOptions options, ILogger logger)
    {
        if (options.Endpoint is not { } endpoint) return null;
        var clientOptions = new EventGridPublisherClientOptions();
        clientOptions.Retry.MaxRetries = 1;
        clientOptions.Retry.NetworkTimeout = options.Timeout;
        var client = options.Key is { } key
            ? new EventGridPublisherClient(endpoint, new AzureKeyCredential(key), clientOptions)
            : new EventGridPublisherClient(endpoint, options.Credential!, clientOptions);
        return new EventGridPublisher(client, options.Timeout, logger);
    }

    public static string EventType(JobState state) => $"{Source}.Job.{state}";

    public async Task PublishAsync(JobCompletedEvent completed)
    {
        using var span = LcmTelemetry.Source.StartActivity("lcm.eventgrid.publish", ActivityKind.Producer);
        span?.SetTag(LcmTelemetry.JobId, completed.Id);
        var cloudEvent = new CloudEvent(Source, EventType(completed.Status),
            BinaryData.FromString(JsonSerializer.Serialize(completed, JobJson.Documents)), "application/json", CloudEventDataFormat.Json)
        {
            Id = $"{completed.Id}.{Webhooks.Completed}",
            Subject = $"jobs/{completed.Id}",
        };
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await client.SendEventAsync(cloudEvent, deadline.Token);
        }
        catch (Exception e)
        {
            span?.SetStatus(ActivityStatusCode.Error, e.Message);
            LcmTelemetry.EventGridFailures.Add(1);
            logger.LogWarning("The completion event of job {Id} was not published to Event Grid: {Message}", completed.Id,
                e is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:F0} s" : e.Message);
        }
    }
}
