using System.Text.Json;
using Lcm.Engine.Models;
using Lcm.SyntheticModels;

namespace Lcm.Cli;

/// <summary>
/// <c>lcm bench</c>: cold start (fresh processes, large UNet), warm generation (any model, size and step count),
/// bursts through Azurite, and (only when asked for) a soak with two workers, one optionally killed.
/// Prints figures; asserts nothing about speed.
/// </summary>
internal static class BenchCommand
{
    public static async Task<int> RunAsync(string[] argv)
    {
        var args = new Arguments(argv, "json", "fp16", "kill-worker");
        bool json = args.Flag("json");
        bool killWorker = args.Flag("kill-worker");
        var family = args.Text("family") switch
        {
            null or "sd15" => ModelFamily.StableDiffusion,
            "sdxl" => ModelFamily.StableDiffusionXL,
            var other => throw new UsageException($"--family must be sd15 or sdxl, found '{other}'"),
        };
        // The cold-start model: SD 1.5's distilled test model, or SDXL's as SDXL with LCM-LoRA fused (one UNet pass per step).
        var coldModel = new TestModelOptions
        {
            Float16 = args.Flag("fp16"),
            Family = family,
            Kind = family == ModelFamily.StableDiffusionXL ? ModelKind.LcmLora : ModelKind.Distilled,
        };
        int unetMegabytes = args.Int("unet-mb") ?? 1700;
        int? runsOption = args.Int("runs");
        int runs = runsOption ?? 3;
        int size = args.Int("size") ?? 512;
        int? steps = args.Int("steps");
        int? jobsOption = args.Int("jobs");
        int batchImages = args.Int("batch") ?? 4;
        var parts = (args.Text("only") ?? "cold,warm,burst").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        string? model = args.Text("model");
        args.EnsureAllUsed();
        if (parts.Except(["cold", "warm", "burst", "soak"]).FirstOrDefault() is { } unknown) throw new UsageException($"--only takes cold, warm, burst and soak, found '{unknown}'");
        if (unetMegabytes < 1 || runs < 1 || jobsOption < 1 || batchImages is < 1 or > 8) throw new UsageException("--unet-mb, --runs and --jobs must be positive and --batch in 1..8");
        if (size is < 64 or > 2048 || size % 8 != 0 || steps is < 1 or > 8) throw new UsageException("--size must be a multiple of 8 in 64..2048 and --steps in 1..8");
        if (killWorker && !parts.Contains("soak")) throw new UsageException("--kill-worker belongs to the soak: add --only soak");

        void Log(string line) => Console.Error.WriteLine(line);
        string smallModel = CliModel.Resolve(model);
        var report = new Dictionary<string, object>();
        if (parts.Contains("cold")) report["coldStart"] = await ColdStartBench.RunAsync(coldModel with { UnetMegabytes = unetMegabytes }, runs, Log);
        if (parts.Contains("warm")) report["warm"] = WarmBench.Run(smallModel, runsOption ?? 5, size, steps is { } only ? [only] : [1, 2, 4], Log);
        if (parts.Contains("burst")) report["burst"] = await BurstBench.RunAsync(smallModel, jobsOption ?? 32, batchImages, Log);
        if (parts.Contains("soak")) report["soak"] = await SoakBench.RunAsync(smallModel, jobsOption ?? 500, killWorker, Log);
        report["machine"] = new { Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription };
        Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = !json, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        return 0;
    }

    /// <summary><c>lcm bench-probe</c>: the fresh process of one cold-start measurement.</summary>
    public static int Probe(string[] argv)
    {
        var args = new Arguments(argv);
        string model = args.Required("model");
        string mode = args.Required("mode");
        int hold = args.Int("hold-ms") ?? 0;
        args.EnsureAllUsed();
        if (mode is not ("naive" or "optimized")) throw new UsageException("--mode must be naive or optimized");
        return ColdStartBench.RunProbe(model, mode == "optimized", hold);
    }
}
