using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lcm.Contracts;

public enum JobState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
    /// <summary>Not started before its deadline: never run, never billed.</summary>
    Expired,
}

public sealed record JobImage(string Blob, string Url, int Width, int Height, long Seed, string ContentType);

public sealed record JobMetrics(double? QueueMs, double? RunMs, IReadOnlyList<double> StepsMs)
{
    /// <summary>A video job's frames over its run time, from the claim to the output's upload.</summary>
    public double? FramesPerSecond { get; init; }
}

/// <summary>The status document <c>lcm-status/{id}.json</c> (schema: schemas/job-status.schema.json).</summary>
public sealed record JobStatus
{
    public required string Id { get; init; }
    public required JobState Status { get; init; }
    public int Attempts { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    /// <summary>When the retention rule deletes the status and images (created + LCM_RETENTION_DAYS); an idempotency key lasts as long.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    public JobRequest? Request { get; init; }
    public IReadOnlyList<JobImage> Images { get; init; } = [];
    public JobError? Error { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];
    public JobMetrics? Metrics { get; init; }
    /// <summary>The SHA-256 of the request as submitted with an idempotency key: a repeat with the same key must match it.</summary>
    public string? RequestHash { get; init; }
    /// <summary>While the job runs: the last denoising step done, of which images (written at most every LCM_PROGRESS_MS).</summary>
    public JobProgress? Progress { get; init; }
    /// <summary>How the delivery of the job's completed webhook went; null without a webhook.</summary>
    public WebhookDelivery? Webhook { get; init; }
    /// <summary>A video job's chunk plan, written once its frames are split out; null for other jobs and before the split.</summary>
    public VideoPlan? Video { get; init; }

    [JsonIgnore]
    public bool IsTerminal => Status is JobState.Succeeded or JobState.Failed or JobState.Canceled or JobState.Expired;

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, JobJson.Documents);

    public static JobStatus FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<JobStatus>(json, JobJson.Documents) ?? throw new JsonException("status document is null");
}

/// <summary>Step <see cref="Step"/> of <see cref="Steps"/> is done for the images from <see cref="Image"/> (0-based) of <see cref="Images"/>.</summary>
public sealed record JobProgress(int Step, int Steps, int Image, int Images)
{
    /// <summary>The latest preview of a job that asked for previews; null before the first, and without them.</summary>
    public JobPreview? Preview { get; init; }
    /// <summary>A video job: frames done so far, of <see cref="Frames"/>; null for other jobs.</summary>
    public int? FramesDone { get; init; }
    public int? Frames { get; init; }
}

/// <summary>
/// A small JPEG of a running job's image after step <see cref="Step"/>, in <c>lcm-images/{id}/preview.jpg</c>
/// (the latest wins); <see cref="Url"/> as for images.
/// </summary>
public sealed record JobPreview(string Blob, string Url, int Step);
/// <summary>
/// A video job split into frames: <see cref="Frames"/> source frames (<c>lcm-frames/{id}/source/{i}.png</c>) at
/// <see cref="Fps"/>, in chunks of <see cref="ChunkFrames"/> that run as separate queue messages; the
/// chunks recorded done so far, and the size every frame is generated at (the request's, else the
/// source's rounded down to multiples of 8). The delivery that records the last chunk assembles the output.
/// </summary>
public sealed record VideoPlan(int Frames, double Fps, int ChunkFrames, IReadOnlyList<int> ChunksDone, int Width, int Height)
{
    [JsonIgnore]
    public int Chunks => (Frames + ChunkFrames - 1) / ChunkFrames;

    [JsonIgnore]
    public int FramesDone => ChunksDone.Sum(chunk => Math.Min(ChunkFrames, Frames - chunk * ChunkFrames));
}

/// <summary>The attempts at the completed webhook so far: delivered, still retrying, or given up.</summary>
public sealed record WebhookDelivery(int Attempts, bool Delivered, int? LastStatusCode, string? LastError, DateTimeOffset? DeliveredAt);
