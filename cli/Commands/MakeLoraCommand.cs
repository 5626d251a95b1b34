using Lcm.Engine.Models;
using Lcm.SyntheticModels;

namespace Lcm.Cli;

/// <summary><c>lcm make-lora</c>: writes a self-made LoRA for the SD 1.5-style test model (<c>make-model --sd15-style</c>) or the SDXL one (<c>--family sdxl</c>).</summary>
internal static class MakeLoraCommand
{
    public static int Run(string[] argv)
    {
        var args = new Arguments(argv, "unet-only");
        string output = Path.GetFullPath(args.Required("output"));
        string formatText = args.Text("format") ?? "kohya";
        string family = args.Text("family") ?? "sd15";
        var options = new TestLoraOptions
        {
            Family = family switch
            {
                "sd15" => ModelFamily.StableDiffusion,
                "sdxl" => ModelFamily.StableDiffusionXL,
                _ => throw new UsageException($"--family must be sd15 or sdxl, found '{family}'"),
            },
            Format = formatText switch
            {
                "kohya" => LoraKeyFormat.Kohya,
                "kohya-sgm" => LoraKeyFormat.KohyaSgm,
                "peft" => LoraKeyFormat.Peft,
                _ => throw new UsageException($"--format must be kohya, kohya-sgm or peft, found '{formatText}'"),
            },
            Rank = args.Int("rank") ?? 4,
            Alpha = (float)(args.Double("alpha") ?? 2),
            Seed = args.Int("seed") ?? 1,
            DType = args.Text("dtype")?.ToUpperInvariant() ?? "F32",
            TextEncoder = !args.Flag("unet-only"),
        };
        args.EnsureAllUsed();
        if (options.Rank is < 1 or > 64) throw new UsageException($"--rank must be in 1..64, found {options.Rank}");
        if (options.Format == LoraKeyFormat.KohyaSgm && options.Family != ModelFamily.StableDiffusionXL) throw new UsageException("--format kohya-sgm is for --family sdxl");
        if (options.DType is not ("F32" or "F16" or "BF16")) throw new UsageException($"--dtype must be F32, F16 or BF16, found '{options.DType}'");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var modules = TestLoraMaker.Write(output, options);
        Console.WriteLine($"{output} ({modules.Count} modules, {formatText}, rank {options.Rank})");
        return 0;
    }
}
