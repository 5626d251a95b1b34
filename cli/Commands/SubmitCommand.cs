using System.CommandLine;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;

namespace Lcm.Cli;

/// <summary><c>lcm submit</c>: enqueues a job; with --wait shows progress, prints the final status and saves the images to --output.</summary>
internal static class SubmitCommand
{
    private static readonly RequestOptions Request = new();
    private static readonly Option<string> Id = CliOptions.Text("--id", "The job id (a new one by default).", "ID");
    private static readonly Option<string> Format = CliOptions.Text("--format", "png, jpeg or webp (png by default).", "F");
    private static readonly Option<string> ReplyTo = CliOptions.Text("--reply-to", "A queue that hears of the job's completion too.", "QUEUE");
    private static readonly Option<string> Webhook = CliOptions.Text("--webhook", "An https URL told of the job's events.", "URL");
    private static readonly Option<string> WebhookEvents = CliOptions.Text("--webhook-events", "Which events the webhook hears, comma-separated: started, progress, completed (completed by default).", "E,...");
    private static readonly Option<int?> Deadline = CliOptions.Int("--deadline", "Seconds from submit by which the job must have started, else it ends expired; one still running then is canceled.", "SEC");
    private static readonly Option<bool> Previews = CliOptions.Flag("--previews", "Writes a small preview after each step (progress.preview); with --wait, prints each one's URL.");
    private static readonly Option<bool> Wait = CliOptions.Flag("--wait", "Waits for the job, showing its progress, and prints the final status.");
    private static readonly Option<string> Output = CliOptions.Text("--output", "With --wait: a folder to save the images to.", "DIR");
    private static readonly Option<int?> Timeout = CliOptions.Int("--timeout", "With --wait: how many seconds to wait (600 by default).", "SEC");
    private static readonly Option<string> Connection = CliOptions.Connection();
    private static readonly Option<string> VideoFile = CliOptions.Text("--video", "A video to turn into another (video-to-video): MP4, MOV, WebM, or an animated GIF or WebP.", "FILE");
    private static readonly Option<string> VideoFormat = CliOptions.Text("--video-format", "With --video: mp4, webm, gif or frames (mp4 by default).", "F");
    private static readonly VideoRequestOptions Video = new();

    public static Command Create()
    {
        var command = new Command("submit", "Submits a job; prints its status, or with --wait waits and saves the images.")
        {
            Id, Format, ReplyTo, Webhook, WebhookEvents, Deadline, Previews, Wait, Output, Timeout, Connection, VideoFile, VideoFormat,
        };
        Request.AddTo(command);
        Video.AddTo(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult args, CancellationToken cancellationToken)
    {
        var request = new JobRequest
        {
            Prompt = args.GetValue(Request.Prompt)!,
            Id = args.GetValue(Id),
            Steps = args.GetValue(Request.Steps),
            GuidanceScale = args.GetValue(Request.Guidance),
            Width = args.GetValue(Request.Width),
            Height = args.GetValue(Request.Height),
            Seed = args.GetValue(Request.Seed),
            Count = args.GetValue(Request.Count),
            Format = args.GetValue(Format),
            Quality = args.GetValue(Request.Quality),
            ReplyTo = args.GetValue(ReplyTo),
            Strength = args.GetValue(Request.Strength),
            NegativePrompt = args.GetValue(Request.NegativePrompt),
            Webhook = args.GetValue(Webhook),
            Deadline = args.GetValue(Deadline),
            Decoder = args.GetValue(Request.Decoder),
            Previews = args.GetValue(Previews) ? true : null,
            WebhookEvents = args.GetValue(WebhookEvents)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
        };
        string? initImage = args.GetValue(Request.InitImage);
        if (args.GetValue(Request.Loras) is { Length: > 0 } loras)
            request = request with { Loras = loras.Select(CliLoras.Parse).Select(l => new JobLora(l.Name, l.Scale)).ToArray() };
        bool wait = args.GetValue(Wait);
        string? output = args.GetValue(Output);
        int timeout = args.GetValue(Timeout) ?? 600;
        string? connection = args.GetValue(Connection);
        if (output is not null && !wait) throw new UsageException("--output needs --wait");

        var client = CliStorage.Client(connection);
        JobStatus status;
        if (args.GetValue(VideoFile) is { } video)
        {
            // The worker probes the video; the file is sent as it is.
            await using var file = File.OpenRead(video);
            status = await client.SubmitVideoAsync(request with { Video = Video.Read(args, null, args.GetValue(VideoFormat)) }, file, cancellationToken);
        }
        else if (initImage is null)
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

    /// <summary>Waits with progress on stderr: each change of state as a line that stays, the steps of the images as the bar (or lines).</summary>
    public static async Task<JobStatus> WaitAsync(LcmJobClient client, string id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var display = new ConsoleProgress($"job {id}");
        JobState? lastState = null;
        JobProgress? lastProgress = null;
        var progress = new SynchronousProgress<JobStatus>(s =>
        {
            if (s.Status != lastState)
            {
                lastState = s.Status;
                display.Line($"job {s.Id}: {s.Status.ToString().ToLowerInvariant()}{(s.Attempts > 1 ? $" (attempt {s.Attempts})" : "")}");
            }
            // Each read signs the preview's URL anew: a new preview is a new step, not a new URL.
            if (s.Progress is { } p && p.Step != lastProgress?.Step | p.Image != lastProgress?.Image | p.Preview?.Step != lastProgress?.Preview?.Step)
            {
                if (p.Preview is { } preview && preview.Step != lastProgress?.Preview?.Step) display.Line($"job {s.Id}: preview of step {preview.Step}: {preview.Url}");
                lastProgress = p;
                if (p is { FramesDone: int done, Frames: int frames }) display.ReportFrames(done, frames, prefix: $"job {s.Id}: ");
                else display.ReportStep(p.Step, p.Steps, p.Image, p.Images, prefix: $"job {s.Id}: ");
            }
        });
        return await client.WaitForCompletionAsync(id, timeout, progress, cancellationToken);
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
