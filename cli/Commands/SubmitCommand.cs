using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;

namespace Lcm.Cli;

/// <summary><c>lcm submit</c>: enqueues a job; with --wait shows progress, prints the final status and saves the images to --output.</summary>
internal static class SubmitCommand
{
    public static async Task<int> RunAsync(string[] argv, CancellationToken cancellationToken)
    {
        var args = new Arguments(argv, "wait");
        var request = new JobRequest
        {
            Prompt = args.Required("prompt"),
            Id = args.Text("id"),
            Steps = args.Int("steps"),
            GuidanceScale = args.Double("guidance"),
            Width = args.Int("width"),
            Height = args.Int("height"),
            Seed = args.Long("seed"),
            Count = args.Int("count"),
            Format = args.Text("format"),
            Quality = args.Int("quality"),
            ReplyTo = args.Text("reply-to"),
            Strength = args.Double("strength"),
            NegativePrompt = args.Text("negative-prompt"),
            Webhook = args.Text("webhook"),
            Deadline = args.Int("deadline"),
            WebhookEvents = args.Text("webhook-events")?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
        };
        string? initImage = args.Text("init-image");
        if (args.All("lora") is { Count: > 0 } loras)
            request = request with { Loras = loras.Select(CliLoras.Parse).Select(l => new JobLora(l.Name, l.Scale)).ToArray() };
        bool wait = args.Flag("wait");
        string? output = args.Text("output");
        int timeout = args.Int("timeout") ?? 600;
        string? connection = args.Text("connection");
        args.EnsureAllUsed();
        if (output is not null && !wait) throw new UsageException("--output needs --wait");

        var client = CliStorage.Client(connection);
        JobStatus status;
        if (initImage is null)
        {
            status = await client.SubmitAsync(request, cancellationToken);
        }
        else
        {
            // The worker checks the image again; checking here turns a bad file into an answer now, not a failed job later.
            var (bytes, _, _, _) = CliImages.Read(initImage);
            status = await client.SubmitAsync(request, new MemoryStream(bytes, writable: false), cancellationToken);
        }
        if (!wait)
        {
            CliStorage.Print(status);
            return 0;
        }
        Console.Error.WriteLine($"submitted job {status.Id}; waiting");
        var final = await WaitAsync(client, status.Id, TimeSpan.FromSeconds(timeout), cancellationToken);
        CliStorage.Print(final);
        if (output is not null) await SaveAsync(client, final, output, cancellationToken);
        return final.Status == JobState.Succeeded ? 0 : 1;
    }

    /// <summary>Waits with a one-line progress display on stderr: each change of state is printed once.</summary>
    public static Task<JobStatus> WaitAsync(LcmJobClient client, string id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        JobState? last = null;
        var progress = new SynchronousProgress<JobStatus>(s =>
        {
            if (s.Status == last) return;
            last = s.Status;
            Console.Error.WriteLine($"job {s.Id}: {s.Status.ToString().ToLowerInvariant()}{(s.Attempts > 1 ? $" (attempt {s.Attempts})" : "")}");
        });
        return client.WaitForCompletionAsync(id, timeout, progress, cancellationToken);
    }

    public static async Task SaveAsync(LcmJobClient client, JobStatus status, string folder, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        foreach (var image in status.Images)
        {
            string path = Path.GetFullPath(Path.Combine(folder, image.Blob.Replace('/', '-')));
            await using (var file = File.Create(path)) await client.DownloadImageAsync(image, file, cancellationToken);
            Console.Error.WriteLine($"saved {path}");
        }
    }
}
