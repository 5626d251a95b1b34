using System.CommandLine;
using System.Text.Json;
using Lcm.Engine.Models;
using Lcm.SyntheticModels;

namespace Lcm.Cli;

/// <summary>
/// <c>lcm bench</c>: cold start (fresh processes, large UNet), warm generation (any model, size and step count),
/// bursts through Azurite, and (only when asked for) a soak with two workers, one optionally killed, and a
/// video job fanned out to one and two workers.
/// Prints figures; asserts nothing about speed.
/// </summary>
internal static class BenchCommand
{
    private static readonly Option<string> Only = CliOptions.Text("--only", "Which parts, comma-separated: cold, warm, burst, soak, video, int8, sizes, realtime (cold,warm,burst by default).", "PARTS");
    private static readonly Option<int?> UnetMegabytes = CliOptions.Int("--unet-mb", "The cold start's UNet size in MB (1700 by default; with --model the cold start takes that folder instead).");
    private static readonly Option<string> Family = CliOptions.Text("--family", "The cold start's model family: sd15 or sdxl (sd15 by default).", "sd15|sdxl");
    private static readonly Option<bool> Fp16 = CliOptions.Flag("--fp16", "A float16 cold-start model.");
    private static readonly Option<int?> Runs = CliOptions.Int("--runs", "Runs per cold-start mode and repeats of the burst and the video bench (3 by default), runs of the warm bench (5 by default).");
    private static readonly Option<int?> Size = CliOptions.Int("--size", "The warm and int8 benches' image size a side, a multiple of 8 in 64..2048 (512 by default).");
    private static readonly Option<string> Sizes = CliOptions.Text("--sizes", "The image sizes of the sizes bench (256,512,768,1024 by default) and the real-time bench (256,512 by default), comma-separated.", "N,...");
    private static readonly Option<string> Plot = CliOptions.Text("--plot", "With --only sizes: a PNG plot of time and memory against size.", "FILE");
    private static readonly Option<int?> Steps = CliOptions.Int("--steps", "The warm bench's one step count, 1..8 (1, 2 and 4 by default; the int8 bench's, 4).");
    private static readonly Option<int?> Jobs = CliOptions.Int("--jobs", "Jobs of the burst (32 by default) or the soak (500 by default).");
    private static readonly Option<int?> Batch = CliOptions.Int("--batch", "The burst's batch size with batching on, 1..8 (4 by default).");
    private static readonly Option<int?> Seconds = CliOptions.Int("--seconds", "The real-time bench's seconds per configuration (10 by default; at least --runs frames each).");
    private static readonly Option<bool> KillWorker = CliOptions.Flag("--kill-worker", "With --only soak: kills one of the two workers midway.");
    private static readonly Option<string> Model = CliOptions.Model();
    private static readonly Option<bool> Json = CliOptions.Flag("--json", "The figures as one line of JSON.");

    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks: cold start, warm generation, bursts through Azurite, and (when named) a soak.")
        {
            Only, UnetMegabytes, Family, Fp16, Runs, Size, Sizes, Plot, Steps, Jobs, Batch, Seconds, KillWorker, Model, Json,
        };
        command.SetAction((args, _) => RunAsync(args));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult args)
    {
        bool json = args.GetValue(Json);
        bool killWorker = args.GetValue(KillWorker);
        var family = args.GetValue(Family) switch
        {
            null or "sd15" => ModelFamily.StableDiffusion,
            "sdxl" => ModelFamily.StableDiffusionXL,
            var other => throw new UsageException($"--family must be sd15 or sdxl, found '{other}'"),
        };
        // The cold-start model: SD 1.5's distilled test model, or SDXL's as SDXL with LCM-LoRA fused (one UNet pass per step).
        var coldModel = new TestModelOptions
        {
            Float16 = args.GetValue(Fp16),
            Family = family,
            Kind = family == ModelFamily.StableDiffusionXL ? ModelKind.LcmLora : ModelKind.Distilled,
        };
        int unetMegabytes = args.GetValue(UnetMegabytes) ?? 1700;
        int? runsOption = args.GetValue(Runs);
        int runs = runsOption ?? 3;
        int size = args.GetValue(Size) ?? 512;
        int? steps = args.GetValue(Steps);
        int? jobsOption = args.GetValue(Jobs);
        int batchImages = args.GetValue(Batch) ?? 4;
        var parts = (args.GetValue(Only) ?? "cold,warm,burst").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        string? model = args.GetValue(Model);
        if (parts.Except(["cold", "warm", "burst", "soak", "video", "int8", "sizes", "realtime"]).FirstOrDefault() is { } unknown) throw new UsageException($"--only takes cold, warm, burst, soak, video, int8, sizes and realtime, found '{unknown}'");
        int? seconds = args.GetValue(Seconds);
        if (seconds is not null && !parts.Contains("realtime")) throw new UsageException("--seconds belongs to the real-time bench: add --only realtime");
        if (seconds is < 1 or > 3600) throw new UsageException("--seconds must be in 1..3600");
        var sizes = args.GetValue(Sizes)?.Split(',', StringSplitOptions.TrimEntries).Select(s => int.TryParse(s, out int n) ? n : 0).ToArray();
        if (sizes?.Any(s => s is < 64 or > 2048 || s % 8 != 0) == true) throw new UsageException("--sizes must be multiples of 8 in 64..2048, comma-separated");
        string? plot = args.GetValue(Plot);
        if (plot is not null && !parts.Contains("sizes")) throw new UsageException("--plot belongs to the sizes bench: add --only sizes");
        if (unetMegabytes < 1 || runs < 1 || jobsOption < 1 || batchImages is < 1 or > 8) throw new UsageException("--unet-mb, --runs and --jobs must be positive and --batch in 1..8");
        if (size is < 64 or > 2048 || size % 8 != 0 || steps is < 1 or > 8) throw new UsageException("--size must be a multiple of 8 in 64..2048 and --steps in 1..8");
        if (killWorker && !parts.Contains("soak")) throw new UsageException("--kill-worker belongs to the soak: add --only soak");

        if (model is not null && parts.Contains("cold") && new Option[] { UnetMegabytes, Family, Fp16 }.FirstOrDefault(o => args.GetResult(o) is { Implicit: false }) is { } made)
            throw new UsageException($"{made.Name} shapes the cold start's own model and does not go with --model");
        string smallModel = CliModel.Resolve(model);
        var report = new Dictionary<string, object>();
        using (var progress = new ConsoleProgress("bench"))
        {
            if (parts.Contains("cold"))
                report["coldStart"] = model is not null
                    ? await ColdStartBench.RunAsync(smallModel, runs, progress)
                    : await ColdStartBench.RunAsync(coldModel with { UnetMegabytes = unetMegabytes }, runs, progress);
            if (parts.Contains("warm")) report["warm"] = WarmBench.Run(smallModel, runsOption ?? 5, size, steps is { } only ? [only] : [1, 2, 4], progress);
            if (parts.Contains("burst")) report["burst"] = await BurstBench.RunAsync(smallModel, jobsOption ?? 32, batchImages, runs, progress);
            if (parts.Contains("soak")) report["soak"] = await SoakBench.RunAsync(smallModel, jobsOption ?? 500, killWorker, progress);
            if (parts.Contains("video")) report["video"] = await VideoBench.RunAsync(smallModel, runs, progress);
            if (parts.Contains("sizes")) report["sizes"] = await SizesBench.RunAsync(smallModel, sizes ?? [256, 512, 768, 1024], steps ?? 1, runsOption ?? 1, plot, progress);
            if (parts.Contains("realtime")) report["realtime"] = await RealtimeBench.RunAsync(smallModel, sizes ?? [256, 512], TimeSpan.FromSeconds(seconds ?? 10), runs, progress);
            if (parts.Contains("int8")) report["int8"] = Int8Bench.Run(smallModel, runsOption ?? 5, size, steps ?? 4, progress);
        }
        report["machine"] = new { Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription };
        Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = !json, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        return 0;
    }

    /// <summary><c>lcm bench-probe</c>, hidden: the fresh process of one cold-start measurement.</summary>
    public static Command CreateProbe()
    {
        var model = CliOptions.Text("--model", "The model folder.", "DIR", required: true);
        var mode = CliOptions.Text("--mode", "naive or optimized.", "naive|optimized", required: true);
        var hold = CliOptions.Int("--hold-ms", "How long to hold before and after reading the memory figures.", "MS");
        var command = new Command("bench-probe") { Hidden = true };
        command.Options.Add(model);
        command.Options.Add(mode);
        command.Options.Add(hold);
        command.SetAction(args =>
        {
            string modeText = args.GetValue(mode)!;
            if (modeText is not ("naive" or "optimized")) throw new UsageException("--mode must be naive or optimized");
            return ColdStartBench.RunProbe(args.GetValue(model)!, modeText == "optimized", args.GetValue(hold) ?? 0);
        });
        return command;
    }
}
