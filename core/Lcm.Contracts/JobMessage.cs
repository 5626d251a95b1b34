using System.Text;
using System.Text.Json;

namespace Lcm.Contracts;

/// <summary>
/// A queue message read as a job. <see cref="JobId"/> is null only when the message names an id that
/// cannot be used (such a message goes to the poison queue); otherwise exactly one of
/// <see cref="Request"/>, <see cref="Error"/> and <see cref="RequestBlob"/> is set. A request blob
/// comes from a BlobCreated event (Event Grid or CloudEvents schema) for <c>lcm-requests/{id}.json</c>:
/// the processor reads the blob and parses it with <see cref="FromJson"/>.
/// </summary>
public sealed record JobMessage(string? JobId, JobRequest? Request, JobError? Error, string? RequestBlob = null)
{
    private const string BlobCreated = "Microsoft.Storage.BlobCreated";

    /// <summary>Which of the four a message is; the fields that go with it are set, the others null.</summary>
    public JobMessageKind Kind => JobId is null ? JobMessageKind.Unusable
        : RequestBlob is not null ? JobMessageKind.RequestBlobEvent
        : Error is not null ? JobMessageKind.Rejected
        : VideoChunk is not null ? JobMessageKind.VideoChunk
        : JobMessageKind.Job;

    /// <summary>For a message that failed validation: its replyTo queue, when that much could be read, so the producer hears back.</summary>
    public string? ReplyTo { get; init; }

    /// <summary>For a chunk of a video job (<c>{"id": job, "videoChunk": n}</c>, queued by the job's split): the chunk's index.</summary>
    public int? VideoChunk { get; init; }

    private static readonly string[] Fields =
        ["id", "prompt", "steps", "guidanceScale", "width", "height", "seed", "count", "format", "quality", "replyTo", "initImage", "strength", "negativePrompt", "loras", "owner", "webhook", "webhookEvents", "deadline", "decoder", "previews", "traceparent", "tracestate", "video"];
    private static readonly string[] LoraFields = ["name", "scale"];
    private static readonly string[] VideoFields = ["input", "fps", "start", "duration", "maxFrames", "format"];

    /// <summary>Reads a message whose base64 text the host has not decoded (the local worker's case).</summary>
    public static JobMessage FromBase64(string text, string messageId)
    {
        byte[] body;
        try
        {
            body = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException)
        {
            // Event Grid may write its events as plain JSON; jobs themselves must be base64.
            if (text.TrimStart().StartsWith('{') || text.TrimStart().StartsWith('['))
            {
                var plain = FromJson(Encoding.UTF8.GetBytes(text), messageId);
                if (plain.RequestBlob is not null || plain.JobId is null) return plain;
            }
            return Fail(messageId, JobErrorCodes.InvalidEncoding, "the message is not base64: job messages are base64-encoded UTF-8 JSON");
        }
        return FromJson(body, messageId);
    }

    /// <summary>Reads a decoded message body. Jobs without an id take the queue message's id.</summary>
    public static JobMessage FromJson(ReadOnlySpan<byte> body, string messageId)
    {
        if (body.Length > JobRequest.MaxMessageBytes)
            return Fail(messageId, JobErrorCodes.MessageTooLarge, $"the message is {body.Length} bytes; at most {JobRequest.MaxMessageBytes} are accepted");
        // JsonDocument accepts invalid UTF-8 inside strings and throws only when one is read, far from here.
        if (!System.Text.Unicode.Utf8.IsValid(body))
            return Fail(messageId, JobErrorCodes.InvalidEncoding, "the message is not UTF-8 text: job messages are base64-encoded UTF-8 JSON");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException e)
        {
            return Fail(messageId, JobErrorCodes.InvalidJson, $"the message is not valid JSON: {e.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (FromEvent(root) is { } fromEvent) return fromEvent;
            if (root.ValueKind != JsonValueKind.Object)
                return Fail(messageId, JobErrorCodes.InvalidJson, $"the message must be a JSON object, found {root.ValueKind}");
            string jobId = messageId;
            if (root.TryGetProperty("id", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
            {
                if (idElement.ValueKind != JsonValueKind.String || !Names.IsValidId(ReadableString(idElement)))
                    return new JobMessage(null, null, new JobError(JobErrorCodes.InvalidId,
                        $"id must be a string of 1-64 characters of A-Z, a-z, 0-9, '_' and '-', found {Abbreviate(idElement.GetRawText())}"));
                jobId = idElement.GetString()!;
            }
            if (root.TryGetProperty("videoChunk", out var chunk)) return ReadChunk(root, jobId, chunk);
            try
            {
                var request = ReadRequest(root);
                request.Validate();
                return new JobMessage(jobId, request, null);
            }
            catch (JobRejectedException e)
            {
                return Fail(jobId, e.Code, e.Message) with { ReplyTo = ReadableReplyTo(root) };
            }
            catch (InvalidOperationException e)
            {
                // A string or name with an escaped lone surrogate ("\ud800"): valid JSON, but no text .NET can hold.
                return Fail(jobId, JobErrorCodes.InvalidJson, $"the message is not valid JSON text: {e.Message}") with { ReplyTo = ReadableReplyTo(root) };
            }
        }
    }

    /// <summary>The id a message body names itself, when it is valid JSON with a valid id; null otherwise.</summary>
    public static string? DeclaredId(ReadOnlySpan<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                && Names.IsValidId(ReadableString(id)) ? id.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string ToBase64(JobRequest request) =>
        Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(request, JobJson.Options));

    /// <summary>The message of one chunk of video job <paramref name="jobId"/>.</summary>
    public static string ChunkToBase64(string jobId, int chunk) =>
        Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(new { id = jobId, videoChunk = chunk }, JobJson.Options));

    /// <summary>A chunk message is the service's own, so anything but an id and an index is not one.</summary>
    private static JobMessage ReadChunk(JsonElement root, string jobId, JsonElement chunk) =>
        root.EnumerateObject().All(p => p.Name is "id" or "videoChunk") && chunk.ValueKind == JsonValueKind.Number
        && chunk.TryGetInt32(out int index) && index >= 0
            ? new JobMessage(jobId, null, null) { VideoChunk = index }
            : Fail(jobId, JobErrorCodes.InvalidJson, "a videoChunk message holds only the job's id and a chunk index of 0 or more");

    private static JobMessage Fail(string jobId, string code, string message) => new(jobId, null, new JobError(code, message));

    /// <summary>
    /// A storage event in either schema (Event Grid: eventType; CloudEvents 1.0: specversion and type),
    /// one per message as Event Grid delivers to queues. Null when the JSON is not an event.
    /// </summary>
    private static JobMessage? FromEvent(JsonElement root)
    {
        var first = root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 0 ? root[0] : root;
        if (first.ValueKind != JsonValueKind.Object || !(first.TryGetProperty("eventType", out _) || first.TryGetProperty("specversion", out _)))
            return null;
        if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() != 1)
            return Unusable(JobErrorCodes.UnsupportedEvent, $"a queue message must hold one event, found {root.GetArrayLength()}");
        string? type = (first.TryGetProperty("eventType", out var t) || first.TryGetProperty("type", out t)) && t.ValueKind == JsonValueKind.String ? ReadableString(t) : null;
        if (type != BlobCreated) return Unusable(JobErrorCodes.UnsupportedEvent, $"only {BlobCreated} events start jobs, found '{type}'");
        // subject: /blobServices/default/containers/{container}/blobs/{name}
        string subject = first.TryGetProperty("subject", out var s) && s.ValueKind == JsonValueKind.String ? ReadableString(s) ?? "" : "";
        const string prefix = $"/blobServices/default/containers/{StorageNames.RequestsContainer}/blobs/";
        if (!subject.StartsWith(prefix, StringComparison.Ordinal) || !subject.EndsWith(".json", StringComparison.Ordinal))
            return Unusable(JobErrorCodes.UnsupportedEvent, $"the event is for '{subject}', not a request blob {StorageNames.RequestsContainer}/{{id}}.json");
        string name = subject[prefix.Length..];
        string id = name[..^".json".Length];
        return Names.IsValidId(id)
            ? new JobMessage(id, null, null, name)
            : Unusable(JobErrorCodes.InvalidId, $"request blob '{name}' must be named {{id}}.json with an id of 1-64 of A-Z, a-z, 0-9, '_' and '-'");
    }

    private static JobMessage Unusable(string code, string message) => new(null, null, new JobError(code, message));

    private static JobRequest ReadRequest(JsonElement root)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!Fields.Contains(property.Name))
                throw new JobRejectedException(JobErrorCodes.UnknownField,
                    $"unknown field '{Abbreviate(property.Name)}'; the fields are {string.Join(", ", Fields)} (names are case-sensitive)");
            if (!seen.Add(property.Name))
                throw new JobRejectedException(JobErrorCodes.InvalidJson, $"field '{property.Name}' appears twice");
        }
        return new JobRequest
        {
            Id = String(root, "id"),
            Prompt = String(root, "prompt") ?? throw new JobRejectedException(JobErrorCodes.InvalidPrompt, "prompt is required"),
            Steps = Integer(root, "steps", int.MinValue, int.MaxValue) is long steps ? (int)steps : null,
            GuidanceScale = Number(root, "guidanceScale"),
            Width = Integer(root, "width", int.MinValue, int.MaxValue) is long width ? (int)width : null,
            Height = Integer(root, "height", int.MinValue, int.MaxValue) is long height ? (int)height : null,
            Seed = Integer(root, "seed", long.MinValue, long.MaxValue),
            Count = Integer(root, "count", int.MinValue, int.MaxValue) is long count ? (int)count : null,
            Format = String(root, "format"),
            Quality = Integer(root, "quality", int.MinValue, int.MaxValue) is long quality ? (int)quality : null,
            ReplyTo = String(root, "replyTo"),
            InitImage = String(root, "initImage"),
            Strength = Number(root, "strength"),
            NegativePrompt = String(root, "negativePrompt"),
            Loras = Loras(root),
            Owner = String(root, "owner"),
            Webhook = String(root, "webhook"),
            WebhookEvents = Strings(root, "webhookEvents"),
            Deadline = Integer(root, "deadline", int.MinValue, int.MaxValue) is long deadline ? (int)deadline : null,
            Decoder = String(root, "decoder"),
            Previews = Value(root, "previews") is not { } previews ? null
                : previews.ValueKind is JsonValueKind.True or JsonValueKind.False ? previews.GetBoolean()
                : throw TypeError("previews", "true or false", previews),
            Traceparent = String(root, "traceparent"),
            Tracestate = String(root, "tracestate"),
            Video = Video(root),
        };
    }

    /// <summary><c>{"input": "job-1/video", "fps": 12, "start": 0, "duration": 4, "maxFrames": 120, "format": "mp4"}</c>.</summary>
    private static JobVideo? Video(JsonElement root)
    {
        if (Value(root, "video") is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Object) throw TypeError("video", "an object with input, fps, start, duration, maxFrames and format", value);
        foreach (var property in value.EnumerateObject())
            if (!VideoFields.Contains(property.Name))
                throw new JobRejectedException(JobErrorCodes.UnknownField, $"unknown field '{Abbreviate(property.Name)}' in video; the fields are {string.Join(", ", VideoFields)}");
        return new JobVideo
        {
            Input = String(value, "input", "video.input"),
            Fps = Number(value, "fps", "video.fps"),
            Start = Number(value, "start", "video.start"),
            Duration = Number(value, "duration", "video.duration"),
            MaxFrames = Integer(value, "maxFrames", int.MinValue, int.MaxValue, "video.maxFrames") is long frames ? (int)frames : null,
            Format = String(value, "format", "video.format"),
        };
    }

    /// <summary><c>[{"name": "lcm-lora-sdv1-5", "scale": 1.0}]</c>; scale defaults to 1.</summary>
    private static JobLora[]? Loras(JsonElement root)
    {
        if (Value(root, "loras") is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Array) throw TypeError("loras", "an array of {\"name\", \"scale\"} objects", value);
        var loras = new List<JobLora>();
        foreach (var item in value.EnumerateArray())
        {
            string field = $"loras[{loras.Count}]";
            if (item.ValueKind != JsonValueKind.Object) throw TypeError(field, "an object with \"name\" and \"scale\"", item);
            foreach (var property in item.EnumerateObject())
                if (!LoraFields.Contains(property.Name))
                    throw new JobRejectedException(JobErrorCodes.UnknownField, $"unknown field '{Abbreviate(property.Name)}' in {field}; the fields are name and scale");
            loras.Add(new JobLora(
                String(item, "name", $"{field}.name") ?? throw new JobRejectedException(JobErrorCodes.InvalidLoras, $"{field} needs a name"),
                Number(item, "scale", $"{field}.scale") ?? 1.0));
        }
        return [.. loras];
    }

    private static string[]? Strings(JsonElement root, string name)
    {
        if (Value(root, name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
            throw TypeError(name, "an array of strings", value);
        return value.EnumerateArray().Select(item => item.GetString()!).ToArray();
    }

    private static string? ReadableReplyTo(JsonElement root) =>
        root.TryGetProperty("replyTo", out var replyTo) && replyTo.ValueKind == JsonValueKind.String
        && ReadableString(replyTo) is { } queue && Names.IsValidQueueName(queue) ? queue : null;

    /// <summary>The string, or null where it holds an escaped lone surrogate, which GetString cannot return.</summary>
    private static string? ReadableString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static JsonElement? Value(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string? String(JsonElement root, string name, string? shownAs = null) => Value(root, name) is not { } value ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw TypeError(shownAs ?? name, "a string", value);

    private static double? Number(JsonElement root, string name, string? shownAs = null) => Value(root, name) is not { } value ? null
        : value.ValueKind == JsonValueKind.Number ? value.GetDouble()
        : throw TypeError(shownAs ?? name, "a number", value);

    private static long? Integer(JsonElement root, string name, long min, long max, string? shownAs = null)
    {
        if (Value(root, name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long result))
            throw TypeError(shownAs ?? name, "an integer", value);
        if (result < min || result > max)
            throw new JobRejectedException($"invalid_{name}", $"{shownAs ?? name} is out of range, found {result}");
        return result;
    }

    private static JobRejectedException TypeError(string name, string expected, JsonElement found) =>
        new(JobErrorCodes.InvalidType, $"{name} must be {expected}, found {Abbreviate(found.GetRawText())}");

    private static string Abbreviate(string text) => text.Length <= 80 ? text : text[..77] + "...";
}

public enum JobMessageKind
{
    /// <summary>A valid request: <see cref="JobMessage.JobId"/> and <see cref="JobMessage.Request"/>.</summary>
    Job,
    /// <summary>A message for a job that can never run as sent: <see cref="JobMessage.JobId"/> and <see cref="JobMessage.Error"/>.</summary>
    Rejected,
    /// <summary>A BlobCreated event for <c>lcm-requests/{id}.json</c>: <see cref="JobMessage.JobId"/> and <see cref="JobMessage.RequestBlob"/>.</summary>
    RequestBlobEvent,
    /// <summary>No usable job id (poisoned with the reason): <see cref="JobMessage.Error"/> only.</summary>
    Unusable,
    /// <summary>One chunk of a video job's frames: <see cref="JobMessage.JobId"/> (the video job's) and <see cref="JobMessage.VideoChunk"/>.</summary>
    VideoChunk,
}
