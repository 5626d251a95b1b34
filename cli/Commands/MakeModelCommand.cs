using System.CommandLine;
using Lcm.Engine.Models;
using Lcm.SyntheticModels;
using Lcm.SyntheticModels.Architectures;

namespace Lcm.Cli;

/// <summary><c>lcm make-model</c>: writes a self-made test model folder (meaningless pictures, real ONNX graphs).</summary>
internal static class MakeModelCommand
{
    private static readonly Option<string> Output = CliOptions.Text("--output", "The folder to write (with --architecture: a copy of the cached model, else only its path is printed).", "DIR");
    private static readonly Option<string> Architecture = CliOptions.Text("--architecture", "sd15 or sdxl: the real network's blocks and sizes with seeded random weights, made once in LCM_CACHE_DIR (takes --kind, --seed, --fp16, --output).", "sd15|sdxl");
    private static readonly Option<bool> Fp16 = CliOptions.Flag("--fp16", "float16 graphs.");
    private static readonly Option<bool> Fp32Vae = CliOptions.Flag("--fp32-vae", "With --fp16: a float32 VAE beside the float16 UNet.");
    private static readonly Option<int?> UnetMegabytes = CliOptions.Int("--unet-mb", "The UNet's size in MB, 1..16384 (1 by default).");
    private static readonly Option<int?> Seed = CliOptions.Int("--seed", "The seed of the weights (1 by default).", "S");
    private static readonly Option<bool> Sd15Style = CliOptions.Flag("--sd15-style", "A three-input UNet named like a real SD 1.5 export (LCM-LoRA), for LoRA merging.");
    private static readonly Option<string> Family = CliOptions.Text("--family", "sd15 or sdxl (sd15 by default).", "sd15|sdxl");
    private static readonly Option<string> Kind = CliOptions.Text("--kind", "With --family sdxl: distilled or lcm-lora (distilled by default).", "distilled|lcm-lora");
    private static readonly Option<string> Era = CliOptions.Text("--era", "With --family sdxl: the export's era, current or legacy (current by default).", "current|legacy");
    private static readonly Option<bool> Ssd1bStyle = CliOptions.Flag("--ssd1b-style", "With --family sdxl: fewer transformer blocks, as SSD-1B has.");

    public static Command Create()
    {
        var command = new Command("make-model", "Writes a self-made test model folder (meaningless pictures, real ONNX graphs).")
        {
            Output, Architecture, Fp16, Fp32Vae, UnetMegabytes, Seed, Sd15Style, Family, Kind, Era, Ssd1bStyle,
        };
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult args)
    {
        if (args.GetValue(Architecture) is { } architecture) return MakeArchitectureModel(args, architecture);
        string output = Path.GetFullPath(args.GetValue(Output) ?? throw new UsageException("--output is required (or --architecture)"));
        string family = args.GetValue(Family) ?? "sd15";
        string? kind = args.GetValue(Kind), era = args.GetValue(Era);
        var options = new TestModelOptions
        {
            Float16 = args.GetValue(Fp16),
            Float32Vae = args.GetValue(Fp32Vae),
            UnetMegabytes = args.GetValue(UnetMegabytes) ?? 1,
            Seed = args.GetValue(Seed) ?? 1,
            Sd15Style = args.GetValue(Sd15Style),
            Ssd1bStyle = args.GetValue(Ssd1bStyle),
            Family = family switch
            {
                "sd15" => ModelFamily.StableDiffusion,
                "sdxl" => ModelFamily.StableDiffusionXL,
                _ => throw new UsageException($"--family must be sd15 or sdxl, found '{family}'"),
            },
            Kind = ParseKind(kind),
            Era = era switch
            {
                null or "current" => ExportEra.Current,
                "legacy" => ExportEra.Legacy,
                _ => throw new UsageException($"--era must be current or legacy, found '{era}'"),
            },
        };
        // The eras' VAE encoders differ too: older exports sample inside the graph, newer ones return the parameters.
        if (options.Family == ModelFamily.StableDiffusionXL)
            options = options with { VaeEncoder = options.Era == ExportEra.Legacy ? VaeEncoderKind.LatentSample : VaeEncoderKind.LatentParameters };
        if (options.UnetMegabytes is < 1 or > 16384) throw new UsageException($"--unet-mb must be in 1..16384, found {options.UnetMegabytes}");
        if (options.Family == ModelFamily.StableDiffusion && (kind ?? era) is not null)
            throw new UsageException("--kind and --era are for --family sdxl (an SD 1.5 test model is distilled, or LCM-LoRA with --sd15-style)");
        if (options.Family == ModelFamily.StableDiffusionXL && options.Sd15Style) throw new UsageException("--sd15-style cannot be combined with --family sdxl");
        if (options.Ssd1bStyle && options.Family != ModelFamily.StableDiffusionXL) throw new UsageException("--ssd1b-style goes with --family sdxl");
        if (options.Float32Vae && !options.Float16) throw new UsageException("--fp32-vae goes with --fp16 (a float16 UNet beside a float32 VAE)");
        TestModelMaker.Write(output, options);
        Console.WriteLine(output);
        return 0;
    }

    /// <summary>
    /// <c>--architecture sd15|sdxl</c>: the real network with random weights (<see cref="ArchitectureModelMaker"/>), made once in
    /// the cache and reused; prints its folder, or copies it to <c>--output</c> when given.
    /// </summary>
    private static int MakeArchitectureModel(ParseResult args, string architecture)
    {
        var options = new ArchitectureOptions
        {
            Architecture = architecture switch
            {
                "sd15" => ModelArchitecture.Sd15,
                "sdxl" => ModelArchitecture.Sdxl,
                _ => throw new UsageException($"--architecture must be sd15 or sdxl, found '{architecture}'"),
            },
            Kind = ParseKind(args.GetValue(Kind)),
            Seed = args.GetValue(Seed) ?? 1,
            Float16 = args.GetValue(Fp16),
        };
        if (new Option[] { Fp32Vae, UnetMegabytes, Sd15Style, Family, Era, Ssd1bStyle }.FirstOrDefault(o => args.GetResult(o) is { Implicit: false }) is { } other)
            throw new UsageException($"{other.Name} does not go with --architecture");
        string? output = args.GetValue(Output) is { } path ? Path.GetFullPath(path) : null;
        string folder = ArchitectureModelMaker.EnsureCached(options);
        if (output != null)
            foreach (string file in Directory.GetFiles(folder, "*", SearchOption.AllDirectories))
            {
                string target = Path.Combine(output, Path.GetRelativePath(folder, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target, overwrite: true);
            }
        Console.WriteLine(output ?? folder);
        return 0;
    }

    private static ModelKind ParseKind(string? kind) => kind switch
    {
        null or "distilled" => ModelKind.Distilled,
        "lcm-lora" => ModelKind.LcmLora,
        _ => throw new UsageException($"--kind must be distilled or lcm-lora, found '{kind}'"),
    };
}
