using System.Diagnostics;
using System.Text.Json;
using Lcm.Engine.Loaders;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Lcm.SyntheticModels;

namespace Lcm.Cli;

/// <summary>
/// Cold start on a large self-made UNet, each run in a fresh process with the files in the page
/// cache: the plain session from the path (naive) against the prepared, mapped graphs (optimized).
/// </summary>
internal static class ColdStartBench
{
    internal sealed record Probe(double ReadyMs, double FirstImageMs, long PrivateBytes, long SharedBytes, long RssBytes);

    /// <summary>The cold start of a test model with a UNet of the options' size, written once into the cache.</summary>
    public static Task<object> RunAsync(TestModelOptions modelOptions, int runs, ConsoleProgress progress)
    {
        string variant = (modelOptions.Family == ModelFamily.StableDiffusionXL ? "sdxl-" : "") + (modelOptions.Float16 ? "fp16-" : "");
        string model = new CacheEntries(CacheDirectory.Resolve(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).GetOrCreate($"bench-{variant}unet-{modelOptions.UnetMegabytes}mb", folder =>
        {
            progress.Line($"writing a {modelOptions.UnetMegabytes} MB {variant}test UNet");
            TestModelMaker.Write(folder, modelOptions);
        });
        return RunAsync(model, runs, progress);
    }

    /// <summary>The cold start of the model folder <paramref name="model"/> (an architecture model, a real export).</summary>
    public static async Task<object> RunAsync(string model, int runs, ConsoleProgress progress)
    {
        string cache = CacheDirectory.Resolve();
        long unetBytes = Directory.GetFiles(Path.Combine(model, "unet")).Sum(f => new FileInfo(f).Length);
        var env = new Dictionary<string, string> { ["LCM_CACHE_DIR"] = cache, ["LCM_EXECUTION_PROVIDER"] = "cpu" };

        ReadIntoPageCache(model);
        var naive = new List<Probe>();
        for (int i = 0; i < runs; i++)
        {
            progress.Report(i, runs, $"cold start: naive run {i + 1}/{runs}");
            naive.Add(await ProbeAsync(model, "naive", env));
        }
        progress.Line($"naive: {Summary(naive)}");

        await ProbeAsync(model, "optimized", env); // prepares the cache entry on the first run; not counted
        await Process.Start("sync")!.WaitForExitAsync(); // freshly written pages count as dirty until written back
        ReadIntoPageCache(Path.Combine(cache, "prepared"));
        var optimized = new List<Probe>();
        for (int i = 0; i < runs; i++)
        {
            progress.Report(i, runs, $"cold start: optimized run {i + 1}/{runs}");
            optimized.Add(await ProbeAsync(model, "optimized", env));
        }
        progress.Line($"optimized: {Summary(optimized)}");

        // Two workers at once on one model: the mapped weights should be shared, not copied twice.
        var pair = await Task.WhenAll(ProbeAsync(model, "optimized", env, holdMs: 2000), ProbeAsync(model, "optimized", env, holdMs: 2000));
        return new
        {
            unetBytes,
            naiveReadyMs = Median(naive, p => p.ReadyMs),
            optimizedReadyMs = Median(optimized, p => p.ReadyMs),
            naiveFirstImageMs = Median(naive, p => p.FirstImageMs),
            optimizedFirstImageMs = Median(optimized, p => p.FirstImageMs),
            privateBytesNaive = (long)Median(naive, p => p.PrivateBytes),
            privateBytesOptimized = (long)Median(optimized, p => p.PrivateBytes),
            rssBytesOptimized = (long)Median(optimized, p => p.RssBytes),
            sharedBytesTwoWorkers = pair.Min(p => p.SharedBytes),
            runs,
            // Median and range of each figure above, so a README figure says how far a re-run may land.
            spreads = new
            {
                naiveReadyMs = Spread.Of(naive.Select(p => p.ReadyMs)),
                optimizedReadyMs = Spread.Of(optimized.Select(p => p.ReadyMs)),
                naiveFirstImageMs = Spread.Of(naive.Select(p => p.FirstImageMs)),
                optimizedFirstImageMs = Spread.Of(optimized.Select(p => p.FirstImageMs)),
                privateBytesNaive = Spread.Of(naive.Select(p => (double)p.PrivateBytes)),
                privateBytesOptimized = Spread.Of(optimized.Select(p => (double)p.PrivateBytes)),
            },
        };
    }

    private static string Summary(List<Probe> probes) =>
        $"ready {Spread.Of(probes.Select(p => p.ReadyMs)).Format("F0")} ms, first image {Spread.Of(probes.Select(p => p.FirstImageMs)).Format("F0")} ms, " +
        $"private {Spread.Of(probes.Select(p => p.PrivateBytes / 1048576.0)).Format("F0")} MB";

    /// <summary>The child side (<c>lcm bench-probe</c>): load, one image at the model's default size (512x512; SDXL 1024x1024), then print the figures as JSON.</summary>
    public static int RunProbe(string model, bool optimized, int holdMs)
    {
        var started = Stopwatch.StartNew();
        var options = EngineSettings.ReadEngine();
        if (!optimized) options = options with { PreparedCacheDirectory = null };
        using var engine = LcmEngine.Load(model, options);
        double ready = started.Elapsed.TotalMilliseconds;
        engine.Generate(new GenerationRequest { Prompt = "a photo of a cat", Seed = 1 });
        double firstImage = started.Elapsed.TotalMilliseconds;
        // Held on both sides of the reading, so a partner probe is still mapping the weights when either one reads.
        Thread.Sleep(holdMs);
        var memory = ProcessMemory.Read();
        Thread.Sleep(holdMs);
        Console.WriteLine(JsonSerializer.Serialize(new Probe(ready, firstImage, memory.AnonymousBytes, memory.SharedCleanBytes, memory.RssBytes)));
        return 0;
    }

    private static async Task<Probe> ProbeAsync(string model, string mode, IReadOnlyDictionary<string, string> env, int holdMs = 0)
    {
        string output = await SelfProcess.RunAsync(["bench-probe", "--model", model, "--mode", mode, "--hold-ms", $"{holdMs}"], env);
        return JsonSerializer.Deserialize<Probe>(output.Trim().Split('\n')[^1])!;
    }

    private static void ReadIntoPageCache(string folder)
    {
        var buffer = new byte[1 << 20];
        foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            using var stream = File.OpenRead(file);
            while (stream.Read(buffer) > 0) { }
        }
    }

    internal static double Median<T>(IEnumerable<T> items, Func<T, double> value)
    {
        var sorted = items.Select(value).Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
