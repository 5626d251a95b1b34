using Lcm.Core.Generation;
using Lcm.Core.Imaging;
using Lcm.Core.Model;

namespace Lcm.Cli.Commands;

/// <summary><c>lcm generate</c>: one request through the local engine, images written to files.</summary>
internal static class GenerateCommand
{
    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new Arguments(argv);
        string prompt = args.Required("prompt");
        string output = Path.GetFullPath(args.Required("output"));
        string? formatText = args.Text("format");
        var format = formatText is null
            ? OutputFormats.Parse(Path.GetExtension(output).TrimStart('.')) ?? OutputFormat.Png
            : OutputFormats.Parse(formatText) ?? throw new UsageException($"--format must be png, jpeg or webp, found '{formatText}'");
        int quality = args.Int("quality") ?? GenerationLimits.DefaultQuality;
        if (quality is < 1 or > 100) throw new UsageException($"--quality must be in 1..100, found {quality}");
        var request = new GenerationRequest
        {
            Prompt = prompt,
            Steps = args.Int("steps") ?? GenerationLimits.DefaultSteps,
            GuidanceScale = args.Double("guidance"),
            Width = args.Int("width") ?? GenerationLimits.DefaultSize,
            Height = args.Int("height") ?? GenerationLimits.DefaultSize,
            Seed = args.Long("seed"),
            Count = args.Int("count") ?? 1,
            NegativePrompt = args.Text("negative-prompt"),
        };
        string? model = args.Text("model");
        var loraArguments = args.All("lora");
        args.EnsureAllUsed();
        var loras = CliLoras.Resolve(loraArguments);
        request = request with { Loras = loras.Select(l => l.Reference).ToArray() };
        // Checked before the model loads, against the limit the engine will use (LCM_MAX_IMAGE_SIZE may exceed the default).
        request.Validate(EngineOptions.FromEnvironment().MaxImageSize);
        string modelPath = CliModel.Resolve(model);

        using var engine = CliModel.LoadEngine(modelPath, loras);
        var result = engine.Generate(request, new SynchronousProgress<StepProgress>(p => Console.Error.WriteLine($"step {p.Step}/{p.Steps} ({p.Elapsed.TotalMilliseconds:F0} ms)")), cancellationToken);
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
}
