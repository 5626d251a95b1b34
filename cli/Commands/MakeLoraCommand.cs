using System.CommandLine;
using Lcm.Engine.Models;
using Lcm.SyntheticModels;

namespace Lcm.Cli;

/// <summary><c>lcm make-lora</c>: writes a self-made LoRA for the SD 1.5-style test model (<c>make-model --sd15-style</c>) or the SDXL one (<c>--family sdxl</c>).</summary>
internal static class MakeLoraCommand
{
    private static readonly Option<string> Output = CliOptions.Text("--output", "The .safetensors file to write.", "FILE", required: true);
    private static readonly Option<string> Family = CliOptions.Text("--family", "The test model it fits: sd15 (make-model --sd15-style) or sdxl (sd15 by default).", "sd15|sdxl");
    private static readonly Option<string> Format = CliOptions.Text("--format", "The key names: kohya, kohya-sgm (SDXL's UNet by SGM blocks) or peft (kohya by default).", "kohya|kohya-sgm|peft");
    private static readonly Option<int?> Rank = CliOptions.Int("--rank", "The rank, 1..64 (4 by default).", "R");
    private static readonly Option<double?> Alpha = CliOptions.Double("--alpha", "The alpha (2 by default).", "A");
    private static readonly Option<int?> Seed = CliOptions.Int("--seed", "The seed of the weights (1 by default).", "S");
    private static readonly Option<string> DType = CliOptions.Text("--dtype", "The tensors' type: F32, F16 or BF16 (F32 by default).", "F32|F16|BF16");
    private static readonly Option<bool> UnetOnly = CliOptions.Flag("--unet-only", "No text encoder modules.");

    public static Command Create()
    {
        var command = new Command("make-lora", "Writes a self-made LoRA for the test models.") { Output, Family, Format, Rank, Alpha, Seed, DType, UnetOnly };
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult args)
    {
        string output = Path.GetFullPath(args.GetValue(Output)!);
        string formatText = args.GetValue(Format) ?? "kohya";
        string family = args.GetValue(Family) ?? "sd15";
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
            Rank = args.GetValue(Rank) ?? 4,
            Alpha = (float)(args.GetValue(Alpha) ?? 2),
            Seed = args.GetValue(Seed) ?? 1,
            DType = args.GetValue(DType)?.ToUpperInvariant() ?? "F32",
            TextEncoder = !args.GetValue(UnetOnly),
        };
        if (options.Rank is < 1 or > 64) throw new UsageException($"--rank must be in 1..64, found {options.Rank}");
        if (options.Format == LoraKeyFormat.KohyaSgm && options.Family != ModelFamily.StableDiffusionXL) throw new UsageException("--format kohya-sgm is for --family sdxl");
        if (options.DType is not ("F32" or "F16" or "BF16")) throw new UsageException($"--dtype must be F32, F16 or BF16, found '{options.DType}'");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var modules = TestLoraMaker.Write(output, options);
        Console.WriteLine($"{output} ({modules.Count} modules, {formatText}, rank {options.Rank})");
        return 0;
    }
}
