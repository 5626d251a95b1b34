using System.CommandLine;
using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Lcm.Jobs.Video;

namespace Lcm.Cli;

/// <summary>
/// <c>lcm video</c>: video-to-video with the local engine, as a job does it: the same decoding and
/// limits, each frame an image-to-image run with the same seed, the same encoding.
/// </summary>
internal static class VideoCommand
{
    private static readonly Option<string> Input = CliOptions.Text("--input", "The source: MP4, MOV, WebM, or an animated GIF or WebP.", "FILE", required: true);
    private static readonly Option<string> Output = CliOptions.Text("--output", "The video file; with --format frames, a folder of PNG frames.", "FILE", required: true);
    private static readonly Option<string> Prompt = CliOptions.Text("--prompt", "What to draw.", required: true);
    private static readonly Option<double?> Strength = CliOptions.Double("--strength", $"How far each frame moves from its source, (0, 1] ({RequestLimits.DefaultVideoStrength} by default).", "S");
    private static readonly Option<int?> Steps = CliOptions.Int("--steps", $"Denoising steps ({RequestLimits.DefaultSteps} by default).");
    private static readonly Option<double?> Guidance = CliOptions.Double("--guidance", "The guidance scale (the model's default).", "G");
    private static readonly Option<int?> Width = CliOptions.Int("--width", "Width in pixels, a multiple of 8 (the source's, rounded down, by default).", "W");
    private static readonly Option<int?> Height = CliOptions.Int("--height", "Height in pixels, a multiple of 8 (the source's, rounded down, by default).", "H");
    private static readonly Option<long?> Seed = CliOptions.Long("--seed", "The seed of every frame (random by default).", "S");
    private static readonly Option<string> NegativePrompt = CliOptions.Text("--negative-prompt", "What to steer away from.");
    private static readonly Option<string> Format = CliOptions.Text("--format", "mp4, webm, gif or frames; else the output's extension, else mp4.", "mp4|webm|gif|frames");
    private static readonly Option<string[]> Loras = CliOptions.Loras();
    private static readonly Option<string> Model = CliOptions.Model();
    private static readonly VideoRequestOptions Video = new();

    public static Command Create()
    {
        var command = new Command("video", "Turns a video into another with the local engine: every frame an image-to-image run with the same seed.")
        {
            Input, Output, Prompt, Strength, Steps, Guidance, Width, Height, Seed, NegativePrompt, Format, Loras, Model,
        };
        Video.AddTo(command);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult args, CancellationToken cancellationToken)
    {
        string output = Path.GetFullPath(args.GetValue(Output)!);
        string format = args.GetValue(Format) ?? (Path.GetExtension(output).TrimStart('.').ToLowerInvariant() is var ext && JobVideo.Formats.Contains(ext) ? ext : "mp4");
        var loras = CliLoras.Resolve(args.GetValue(Loras) ?? []);
        var request = new JobRequest
        {
            Prompt = args.GetValue(Prompt)!,
            Steps = args.GetValue(Steps),
            GuidanceScale = args.GetValue(Guidance),
            Width = args.GetValue(Width),
            Height = args.GetValue(Height),
            Strength = args.GetValue(Strength),
            Seed = args.GetValue(Seed),
            NegativePrompt = args.GetValue(NegativePrompt),
            Loras = loras.Select(l => new JobLora(l.Reference.Name, l.Reference.Scale)).ToArray(),
            Video = Video.Read(args, Path.GetFileName(args.GetValue(Input)!), format),
        };
        request.Validate();
        var settings = WorkerSettings.FromEnvironment();
        var video = settings.Processor.Video;
        var limits = settings.Processor.InputLimits;
        string input = args.GetValue(Input)!;
        if (new FileInfo(input).Length > video.MaxBytes)
            throw new UsageException($"{input} is over {video.MaxBytes} bytes (LCM_MAX_VIDEO_BYTES)");
        var source = await new VideoDecoder(video, limits).DecodeAsync(await File.ReadAllBytesAsync(input, cancellationToken), request.Video!, cancellationToken);

        using var engine = CliModel.LoadEngine(CliModel.Resolve(args.GetValue(Model)), loras);
        long seed = request.Seed ?? Random.Shared.NextInt64(0, RequestLimits.MaxSeed + 1);
        var plan = JobPlan.Resolve(JobPlan.Normalise(request, seed, engine.Capabilities),
            ImageInput.DefaultSize(source.Width, source.Height, engine.Capabilities.MaxImageSize));
        engine.Validate(plan.Frame(source.Pngs[0], limits));
        var frames = new List<byte[]>();
        var timer = System.Diagnostics.Stopwatch.StartNew();
        using (var progress = new ConsoleProgress("video"))
        {
            foreach (byte[] png in source.Pngs)
            {
                var result = engine.Generate(plan.Frame(png, limits), null, cancellationToken);
                frames.Add(ImageEncoder.Encode(result.Images[0], OutputFormat.Png, plan.Quality));
                progress.ReportFrames(frames.Count, source.Pngs.Count, suffix: $" ({frames.Count / timer.Elapsed.TotalSeconds:F1} frames/s)");
            }
        }
        if (format == "frames")
        {
            Directory.CreateDirectory(output);
            for (int i = 0; i < frames.Count; i++) await File.WriteAllBytesAsync(Path.Combine(output, $"{i:D6}.png"), frames[i], cancellationToken);
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            await File.WriteAllBytesAsync(output, await new VideoEncoder(video).EncodeAsync(frames, source.Fps, format, cancellationToken), cancellationToken);
        }
        Console.WriteLine($"{output} ({frames.Count} frames at {source.Fps:0.###} fps, {plan.Request.Width}x{plan.Request.Height}, seed {seed})");
        return 0;
    }
}
