using Lcm.Engine.Models;
using Lcm.SyntheticModels;
using Lcm.SyntheticModels.Architectures;

namespace Lcm.Cli;

/// <summary><c>lcm make-model</c>: writes a self-made test model folder (meaningless pictures, real ONNX graphs).</summary>
internal static class MakeModelCommand
{
    public static int Run(string[] argv)
    {
        var args = new Arguments(argv, "fp16", "fp32-vae", "sd15-style", "ssd1b-style");
        if (args.Text("architecture") is { } architecture) return MakeArchitectureModel(args, architecture);
        string output = Path.GetFullPath(args.Required("output"));
        string family = args.Text("family") ?? "sd15";
        string? kind = args.Text("kind"), era = args.Text("era");
        var options = new TestModelOptions
        {
            Float16 = args.Flag("fp16"),
            Float32Vae = args.Flag("fp32-vae"),
            UnetMegabytes = args.Int("unet-mb") ?? 1,
            Seed = args.Int("seed") ?? 1,
            Sd15Style = args.Flag("sd15-style"),
            Ssd1bStyle = args.Flag("ssd1b-style"),
            Family = family switch
            {
                "sd15" => ModelFamily.StableDiffusion,
                "sdxl" => ModelFamily.StableDiffusionXL,
                _ => throw new UsageException($"--family must be sd15 or sdxl, found '{family}'"),
            },
            Kind = Kind(kind),
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
        args.EnsureAllUsed();
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
    /// <c>--architecture sd15</c>: the real network with random weights (<see cref="ArchitectureModelMaker"/>), made once in
    /// the cache and reused; prints its folder, or copies it to <c>--output</c> when given.
    /// </summary>
    private static int MakeArchitectureModel(Arguments args, string architecture)
    {
        var options = new ArchitectureOptions
        {
            Architecture = architecture == "sd15" ? ModelArchitecture.Sd15 : throw new UsageException($"--architecture must be sd15, found '{architecture}'"),
            Kind = Kind(args.Text("kind")),
            Seed = args.Int("seed") ?? 1,
            Float16 = args.Flag("fp16"),
        };
        string? output = args.Text("output") is { } path ? Path.GetFullPath(path) : null;
        args.EnsureAllUsed();
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

    private static ModelKind Kind(string? kind) => kind switch
    {
        null or "distilled" => ModelKind.Distilled,
        "lcm-lora" => ModelKind.LcmLora,
        _ => throw new UsageException($"--kind must be distilled or lcm-lora, found '{kind}'"),
    };
}
