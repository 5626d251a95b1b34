using System.Diagnostics;
using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Microsoft.Extensions.Logging;

namespace Lcm.Jobs;

/// <summary>
/// A job's webhook events: queued on the webhooks queue when they happen, so a slow or failing
/// receiver never holds up the job, its completion or a cancel; delivered from there by
/// <see cref="DeliverAsync"/> (the local worker's loop, or the function app's trigger). A completed
/// event that finds no answer, a timeout or 408/429/5xx is queued again after the next of
/// <see cref="WebhookOptions.RetryDelays"/>; its attempts are recorded in the job's status.
/// Started and progress events are tried once.
/// </summary>
public sealed class WebhookDispatcher(WebhookSender sender, JobQueues queues, StatusStore statuses, WebhookOptions options, ILogger logger,
    TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public WebhookOptions Options => options;

    /// <summary>Why this worker will not call the job's webhook, or null (also when it has none).</summary>
    public async Task<JobError?> RefusalAsync(JobRequest? request, CancellationToken cancellationToken)
    {
        if (request?.Webhook is not { } webhook) return null;
        if (options.Keys.Count == 0)
            return new JobError(JobErrorCodes.InvalidWebhook, "this service has no LCM_WEBHOOK_SECRET to sign webhooks with; send the job without one or ask its operator to set it");
        return await options.Policy.CheckAsync(webhook, cancellationToken);
    }

    /// <summary>Queues <paramref name="event"/> with <paramref name="body"/> when the job's webhook subscribes to it; <paramref name="suffix"/> tells repeated events apart.</summary>
    public async Task EnqueueAsync<T>(JobStatus status, string @event, T body, CancellationToken cancellationToken, string? suffix = null)
    {
        if (status.Request is not { Webhook: { } url } request || !Webhooks.EventsOf(request).Contains(@event)) return;
        var message = new WebhookMessage(status.Id, @event, url, $"{status.Id}.{@event}{suffix}",
            JsonSerializer.Serialize(body, JobJson.Documents), 1, _clock.GetUtcNow(), LcmTelemetry.CurrentContext().Traceparent);
        await queues.SendJsonAsync(queues.Names.WebhooksQueue, message, cancellationToken);
    }

    /// <summary>One attempt at a queued delivery; throws only when storage fails, so the message stays to be tried again.</summary>
    public async Task DeliverAsync(WebhookMessage message, CancellationToken cancellationToken)
    {
        using var span = LcmTelemetry.Source.StartActivity("lcm.webhook", ActivityKind.Client, LcmTelemetry.ParentOf(message.Traceparent));
        span?.SetTag(LcmTelemetry.JobId, message.JobId);
        span?.SetTag("lcm.webhook.event", message.Event);
        span?.SetTag("lcm.webhook.attempt", message.Attempt);
        var attempt = await sender.SendAsync(message, cancellationToken);
        if (!attempt.Delivered) span?.SetStatus(ActivityStatusCode.Error, attempt.Error);
        bool terminal = message.Event == Webhooks.Completed;
        bool retry = terminal && !attempt.Delivered && attempt.Retriable && message.Attempt <= options.RetryDelays.Count;
        logger.Log(attempt.Delivered ? LogLevel.Information : LogLevel.Warning,
            "Webhook {WebhookId} attempt {Attempt}: {Outcome}{Next}", message.WebhookId, message.Attempt,
            attempt.Delivered ? $"delivered ({attempt.StatusCode})" : attempt.Error,
            retry ? $"; retrying in {options.RetryDelays[message.Attempt - 1].TotalSeconds:F0} s" : "");
        if (terminal)
        {
            var delivery = new WebhookDelivery(message.Attempt, attempt.Delivered, attempt.StatusCode, attempt.Error, attempt.Delivered ? _clock.GetUtcNow() : null);
            await statuses.UpdateAsync(message.JobId, stored => ValueTask.FromResult(stored is null ? null : stored.Status with { Webhook = delivery }),
                maxRaces: 10, cancellationToken);
        }
        if (retry)
            await queues.SendJsonAsync(queues.Names.WebhooksQueue, message with { Attempt = message.Attempt + 1 }, cancellationToken,
                visibleAfter: options.RetryDelays[message.Attempt - 1]);
    }

    /// <summary>
    /// A webhooks-queue message as sent by <see cref="EnqueueAsync"/>: JSON as the Functions host hands it
    /// over, or base64 as it is stored; null (logged) for anything else.
    /// </summary>
    public WebhookMessage? Read(string text, bool base64)
    {
        try
        {
            return JsonSerializer.Deserialize<WebhookMessage>(base64 ? Convert.FromBase64String(text) : System.Text.Encoding.UTF8.GetBytes(text), JobJson.Documents);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            logger.LogWarning("A message on {Queue} is not a webhook delivery and is dropped: {Reason}", queues.Names.WebhooksQueue, e.Message);
            return null;
        }
    }
}
