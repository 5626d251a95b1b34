using System.Text.Json;

namespace Lcm.Jobs;

/// <summary>
/// The queue settings of host.json's <c>extensions.queues</c>, read by the local worker so that it
/// behaves as the Functions host does with the same file. Missing keys take the host's defaults.
/// </summary>
public sealed record QueueSettings
{
    public int BatchSize { get; init; } = 16;
    public int NewBatchThreshold { get; init; } = 8;
    public int MaxDequeueCount { get; init; } = 5;
    /// <summary>How long a failed message stays invisible before it is retried.</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.Zero;
    public TimeSpan MaxPollingInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Messages in flight at once: the host fetches a new batch when fewer than the threshold remain.</summary>
    public int Concurrency => BatchSize + NewBatchThreshold;

    public static QueueSettings FromHostJson(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var settings = new QueueSettings();
        if (!document.RootElement.TryGetProperty("extensions", out var extensions) || !extensions.TryGetProperty("queues", out var queues))
            return settings;
        int Int(string name, int fallback, int min, int max)
        {
            if (!queues.TryGetProperty(name, out var v)) return fallback;
            int value = v.GetInt32();
            return value >= min && value <= max ? value : throw new FormatException($"'{path}': extensions.queues.{name} must be in {min}..{max}, found {value}");
        }
        TimeSpan Time(string name, TimeSpan fallback) => queues.TryGetProperty(name, out var v)
            ? TimeSpan.Parse(v.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : fallback;
        return settings with
        {
            BatchSize = Int("batchSize", settings.BatchSize, 1, 32),
            NewBatchThreshold = Int("newBatchThreshold", settings.NewBatchThreshold, 0, 1000),
            MaxDequeueCount = Int("maxDequeueCount", settings.MaxDequeueCount, 1, 1000),
            VisibilityTimeout = Time("visibilityTimeout", settings.VisibilityTimeout),
            MaxPollingInterval = Time("maxPollingInterval", settings.MaxPollingInterval),
        };
    }

    /// <summary>LCM_HOST_JSON, else host.json in the working folder, else beside the program; defaults when none exists.</summary>
    public static QueueSettings Load(Func<string, string?> read)
    {
        string? path = read("LCM_HOST_JSON") is { Length: > 0 } configured ? configured
            : new[] { Path.Combine(Environment.CurrentDirectory, "host.json"), Path.Combine(AppContext.BaseDirectory, "host.json") }.FirstOrDefault(File.Exists);
        return path is null ? new QueueSettings() : FromHostJson(path);
    }
}
