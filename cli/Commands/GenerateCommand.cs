using System.CommandLine;
using Lcm.Contracts;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary><c>lcm generate</c>: one request through the local engine, images written to files.</summary>
internal static class GenerateCommand
{
    private static readonly RequestOptions Request = new();
    private static readonly Option<string> Output = CliOptions.Text("--output", "The image file; with --count > 1, NAME-0.EXT, NAME-1.EXT, ...", "FILE", required: true);
    private static readonly Option<string> Format = CliOptions.Text("--format", "png, jpeg or webp; else the file's extension, else png.", "png|jpeg|webp");
    private static readonly Option<string> Model = CliOptions.Model();

    public static Command Create()
    {
        var command = new Command("generate", "Generates images with the local engine and writes them to files.") { Output, Format, Model };
        Request.AddTo(command);
        command.SetAction((args, cancellationToken) => Task.FromResult(Run(args, cancellationToken)));
        return command;
    }

    private static int Run(ParseResult args, CancellationToken cancellationToken)
    {
        string output = Path.GetFullPath(args.GetValue(Output)!);
        string? formatText = args.GetValue(Format);
        var format = formatText is null
            ? OutputFormats.Parse(Path.GetExtension(output).TrimStart('.')) ?? OutputFormat.Png
            : OutputFormats.Parse(formatText) ?? throw new UsageException($"--format must be png, jpeg or webp, found '{formatText}'");
        int quality = args.GetValue(Request.Quality) ?? RequestLimits.DefaultQuality;
        if (quality is < 1 or > 100) throw new UsageException($"--quality must be in 1..100, found {quality}");
        string? decoderText = args.GetValue(Request.Decoder);
        var decoder = decoderText is null ? VaeDecoderKind.Full
            : VaeDecoderKinds.Parse(decoderText) ?? throw new UsageException($"--decoder must be full or tiny, found '{decoderText}'");
        string? initImage = args.GetValue(Request.InitImage);
        int? width = args.GetValue(Request.Width), height = args.GetValue(Request.Height);
        var request = new GenerationRequest
        {
            Prompt = args.GetValue(Request.Prompt)!,
            Steps = args.GetValue(Request.Steps) ?? RequestLimits.DefaultSteps,
            GuidanceScale = args.GetValue(Request.Guidance),
            Width = width ?? RequestLimits.DefaultSize,
            Height = height ?? RequestLimits.DefaultSize,
            Seed = args.GetValue(Request.Seed),
            Count = args.GetValue(Request.Count) ?? 1,
            Strength = args.GetValue(Request.Strength),
            NegativePrompt = args.GetValue(Request.NegativePrompt),
            Decoder = decoder,
        };
        string? model = args.GetValue(Model);
        var loraArguments = args.GetValue(Request.Loras) ?? [];
        int maxImageSize = EngineSettings.ReadEngine().MaxImageSize;
        if (initImage is not null) request = WithInitImage(request, initImage, width, height, maxImageSize);
        var loras = CliLoras.Resolve(loraArguments);
        request = request with { Loras = loras.Select(l => l.Reference).ToArray() };
        // Checked before the model loads, against the limit the engine will use (LCM_MAX_IMAGE_SIZE may exceed the default).
        request.Validate(maxImageSize);
        string modelPath = CliModel.Resolve(model);

        using var engine = CliModel.LoadEngine(modelPath, loras);
        // Without --width/--height text-to-image takes the model's default size (1024 for SDXL), known once it is loaded.
        if (initImage is null) request = request with { Width = width ?? engine.Capabilities.DefaultWidth, Height = height ?? engine.Capabilities.DefaultHeight };
        GenerationResult result;
        using (var progress = new ConsoleProgress("generating"))
            result = engine.Generate(request, new SynchronousProgress<StepProgress>(p =>
                progress.ReportStep(p.Step, p.Steps, p.Image, p.Images, suffix: $" ({p.Elapsed.TotalMilliseconds:F0} ms)")), cancellationToken);
        foreach (string warning in result.Warnings) Console.Error.WriteLine($"warning: {warning}");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string extension = Path.HasExtension(output) ? Path.GetExtension(output) : "." + format.Extension();
        for (int i = 0; i < result.Images.Count; i++)
        {
            var image = result.Images[i];
            string path = result.Images.Count == 1 ? output
                : Path.Combine(Path.GetDirectoryName(output)!, $"{Path.GetFileNameWithoutExtension(output)}-{i}{extension}");
            File.WriteAllBytes(path, ImageEncoder.Encode(image, format, quality));
            Console.WriteLine($"{path} (seed {image.Seed}, {image.Width}x{image.Height})");
        }
        return 0;
    }

    /// <summary>Reads and decodes the init image; without --width/--height the output takes the image's own size (rounded down to multiples of 8).</summary>
    internal static GenerationRequest WithInitImage(GenerationRequest request, string path, int? width, int? height, int maxImageSize)
    {
        var (bytes, ownWidth, ownHeight, limits) = CliImages.Read(path);
        var (defaultWidth, defaultHeight) = ImageInput.DefaultSize(ownWidth, ownHeight, maxImageSize);
        request = request with { Width = width ?? defaultWidth, Height = height ?? defaultHeight };
        // Sizes are checked before the pixels are decoded at them (strength once the image is there).
        (request with { Strength = null }).Validate(maxImageSize);
        return request with { InitImage = ImageInput.Decode(bytes, request.Width, request.Height, limits) };
    }
}
