using System.Diagnostics;
using System.Text.Json;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Engine.Text;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests.Cli;

/// <summary>The <c>lcm</c> command through its real entry point: <c>dotnet lcm.dll ...</c> as a separate process.</summary>
public sealed class CliTests(CliFolder folder) : IClassFixture<CliFolder>
{
    private LcmRun Lcm(params string[] args) => folder.Lcm(args);

    private LcmRun Lcm(IReadOnlyDictionary<string, string> environment, params string[] args) => folder.Lcm(environment, args);

    private static void AssertExit(int expected, LcmRun run) => LcmRun.AssertExit(expected, run);

    private static (int Width, int Height) Decode(string path, Type format)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.IsType(format, Image.DetectFormat(bytes));
        using var image = Image.Load<Rgb24>(bytes);
        return (image.Width, image.Height);
    }

    [Fact]
    public void Generate_writes_the_engines_png_and_reports_progress()
    {
        string dir = folder.NewDirectory("generate");
        string first = Path.Combine(dir, "cat.png"), second = Path.Combine(dir, "again.png");
        string[] args = ["generate", "--prompt", "a photo of a cat", "--width", "128", "--height", "96", "--seed", "7"];

        var run = Lcm([.. args, "--output", first]);
        var again = Lcm([.. args, "--output", second]);

        AssertExit(0, run);
        AssertExit(0, again);
        Assert.Equal((128, 96), Decode(first, typeof(PngFormat)));
        Assert.Equal($"{first} (seed 7, 128x96)", run.Stdout.Trim());
        Assert.Contains(BuiltInTestModel.Notice, run.Stderr);
        foreach (int step in new[] { 1, 2, 3, 4 }) Assert.Contains($"step {step}/4 (", run.Stderr);
        Assert.True(run.Stderr.IndexOf("step 1/4", StringComparison.Ordinal) < run.Stderr.IndexOf("step 4/4", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));

        // The same request in process, on the model the CLI made, with the CLI's defaults (4 steps, guidance 8.5)
        // and its prepared graphs: prepared and unprepared graphs may round differently in the last bit.
        using var engine = LcmEngine.Load(folder.BuiltInModel, TestModels.Cpu with { PreparedCacheDirectory = Path.Combine(folder.CacheDirectory, "prepared") });
        var expected = engine.Generate(new GenerationRequest { Prompt = "a photo of a cat", Width = 128, Height = 96, Seed = 7 });
        Assert.Equal(Images.Png(expected), File.ReadAllBytes(first));
    }

    [Fact]
    public void Generate_count_two_writes_numbered_files_with_consecutive_seeds()
    {
        string dir = folder.NewDirectory("count");
        string output = Path.Combine(dir, "x.png");

        var run = Lcm("generate", "--prompt", "a dog", "--output", output, "--width", "64", "--height", "72", "--seed", "40", "--count", "2", "--steps", "2");

        AssertExit(0, run);
        string[] files = [Path.Combine(dir, "x-0.png"), Path.Combine(dir, "x-1.png")];
        Assert.Equal(files, Directory.GetFiles(dir).Order());
        Assert.Equal([$"{files[0]} (seed 40, 64x72)", $"{files[1]} (seed 41, 64x72)"], run.Stdout.Trim().Split('\n'));
        Assert.All(files, f => Assert.Equal((64, 72), Decode(f, typeof(PngFormat))));
        Assert.NotEqual(File.ReadAllBytes(files[0]), File.ReadAllBytes(files[1]));
    }

    [Fact]
    public void Generate_format_jpeg_writes_a_jpeg()
    {
        string output = Path.Combine(folder.NewDirectory("jpeg"), "x.jpg");

        var run = Lcm("generate", "--prompt", "a cat", "--output", output, "--width", "128", "--height", "96", "--seed", "1", "--format", "jpeg", "--quality", "70");

        AssertExit(0, run);
        Assert.Equal((128, 96), Decode(output, typeof(JpegFormat)));
    }

    [Fact]
    public void Generate_honours_a_max_image_size_above_the_default()
    {
        string output = Path.Combine(folder.NewDirectory("wide"), "x.png");

        var run = Lcm(new Dictionary<string, string> { ["LCM_MAX_IMAGE_SIZE"] = "4096" },
            "generate", "--prompt", "a cat", "--output", output, "--width", "2056", "--height", "64", "--steps", "1");

        AssertExit(0, run);
        Assert.Equal((2056, 64), Decode(output, typeof(PngFormat)));
    }

    [Fact]
    public void Tokenize_prints_one_json_array_of_77_ids()
    {
        var run = Lcm("tokenize", "a photo of a cat");

        AssertExit(0, run);
        string line = Assert.Single(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        int[] ids = JsonSerializer.Deserialize<int[]>(line)!;
        Assert.Equal(77, ids.Length);
        var tokenizer = ClipTokenizer.FromFolder(ModelFolder.Open(folder.BuiltInModel).TokenizerDirectory);
        Assert.Equal(tokenizer.Encode("a photo of a cat").Ids, ids);
        Assert.Equal(5, ids.Skip(1).TakeWhile(id => id != ids[^1]).Count()); // bos, five words, eos, padding
    }

    [Fact]
    public void Make_model_fp16_then_info_and_generate_on_it()
    {
        string model = Path.Combine(folder.NewDirectory("made"), "fp16");
        string output = Path.Combine(folder.NewDirectory("made-out"), "x.png");

        var make = Lcm("make-model", "--output", model, "--fp16");
        AssertExit(0, make);
        Assert.Equal(model, make.Stdout.Trim());

        var info = Lcm("info", "--model", model);
        AssertExit(0, info);
        Assert.Contains("execution provider: CPU", info.Stdout);
        Assert.Contains($"text_encoder: {Path.Combine(model, "text_encoder", "model.onnx")}", info.Stdout);
        Assert.Contains("  input  input_ids: Int32 [batch, 77]", info.Stdout);
        Assert.Contains($"unet: {Path.Combine(model, "unet", "model.onnx")}", info.Stdout);
        Assert.Contains("  input  sample: Float16 [batch, 4, height, width]", info.Stdout);
        Assert.Contains("  input  timestep: Float []", info.Stdout);
        Assert.Contains("  input  timestep_cond: Float16 [batch, 256]", info.Stdout);
        Assert.Contains("  output out_sample: Float16 [batch, 4, height, width]", info.Stdout);
        Assert.Contains($"vae_decoder: {Path.Combine(model, "vae_decoder", "model.onnx")}", info.Stdout);
        Assert.Contains("  input  latent_sample: Float16 [batch, 4, latent_height, latent_width]", info.Stdout);
        Assert.DoesNotContain(BuiltInTestModel.Notice, info.Stderr);

        var generate = Lcm("generate", "--model", model, "--prompt", "a cat", "--output", output, "--width", "64", "--height", "64", "--steps", "1");
        AssertExit(0, generate);
        Assert.Equal((64, 64), Decode(output, typeof(PngFormat)));
        Assert.DoesNotContain(BuiltInTestModel.Notice, generate.Stderr);
    }

    [Fact]
    public void Make_model_architecture_refuses_what_it_does_not_take_before_writing()
    {
        var unknown = Lcm("make-model", "--architecture", "sd3");
        var unused = Lcm("make-model", "--architecture", "sd15", "--unet-mb", "5");

        AssertExit(2, unknown);
        Assert.Contains("lcm make-model: --architecture must be sd15 or sdxl, found 'sd3'", unknown.Stderr);
        AssertExit(2, unused);
        Assert.Contains("lcm make-model: --unet-mb does not go with --architecture", unused.Stderr);
        Assert.False(Directory.Exists(Path.Combine(folder.CacheDirectory, "architecture-sd15-distilled-seed1")));
    }

    [Fact]
    public void Bench_cold_takes_a_model_folder_and_refuses_the_options_of_its_own_model()
    {
        string model = folder.NewDirectory("cold-model");
        TestModelMaker.Write(model, new TestModelOptions());
        var run = Lcm("bench", "--only", "cold", "--model", model, "--runs", "1", "--json");
        var refused = Lcm("bench", "--only", "cold", "--model", model, "--unet-mb", "5");

        AssertExit(0, run);
        using var report = JsonDocument.Parse(run.Stdout);
        var cold = report.RootElement.GetProperty("coldStart");
        Assert.Equal(Directory.GetFiles(Path.Combine(model, "unet")).Sum(f => new FileInfo(f).Length), cold.GetProperty("unetBytes").GetInt64());
        Assert.True(cold.GetProperty("optimizedReadyMs").GetDouble() > 0 && cold.GetProperty("naiveFirstImageMs").GetDouble() > 0, cold.ToString());
        var spread = cold.GetProperty("spreads").GetProperty("optimizedReadyMs");
        Assert.Equal(cold.GetProperty("optimizedReadyMs").GetDouble(), spread.GetProperty("median").GetDouble());
        Assert.DoesNotContain("writing a", run.Stderr);
        AssertExit(2, refused);
        Assert.Contains("lcm bench: --unet-mb shapes the cold start's own model and does not go with --model", refused.Stderr);
    }

    [Fact]
    public void Bench_warm_at_a_size_and_step_count_reports_each_stage_and_peak_memory()
    {
        var run = Lcm("bench", "--only", "warm", "--size", "64", "--steps", "2", "--runs", "1", "--json");

        AssertExit(0, run);
        using var report = JsonDocument.Parse(run.Stdout);
        var warm = report.RootElement.GetProperty("warm");
        Assert.Equal("64x64", warm.GetProperty("size").GetString());
        Assert.False(warm.TryGetProperty("steps1", out _));
        var figures = warm.GetProperty("steps2");
        Assert.Equal(2, figures.GetProperty("unetStepMs").GetArrayLength());
        foreach (string stage in new[] { "tokenizeMs", "textEncoderMs", "vaeDecoderMs", "imageEncodingMs" })
            Assert.True(figures.GetProperty(stage).GetDouble() > 0, stage);
        Assert.True(figures.GetProperty("peakRssBytes").GetInt64() > 0);
        // Counted from a profiled run of the same request: the test model's UNet has convolutions and products.
        var flops = warm.GetProperty("flops");
        Assert.True(flops.GetProperty("unetStepGflop").GetDouble() > 0 && flops.GetProperty("unetGflops").GetDouble() > 0, flops.ToString());
        Assert.True(flops.GetProperty("matMulPeakGflops").GetDouble() > 1, flops.ToString());
    }

    [Fact]
    public void Bench_sizes_runs_the_warm_bench_per_size_in_its_own_process_and_plots_time_and_memory()
    {
        string plot = Path.Combine(folder.NewDirectory("plot"), "sizes.png");
        var run = Lcm("bench", "--only", "sizes", "--sizes", "64,128", "--plot", plot, "--json");

        AssertExit(0, run);
        using var report = JsonDocument.Parse(run.Stdout);
        var rows = report.RootElement.GetProperty("sizes").GetProperty("sizes").EnumerateArray().ToArray();
        Assert.Equal([64, 128], rows.Select(r => r.GetProperty("size").GetInt32()));
        Assert.All(rows, r => Assert.True(r.GetProperty("peakRssBytes").GetInt64() > 0 && r.GetProperty("unetStepMs").GetDouble() > 0));
        using var image = SixLabors.ImageSharp.Image.Load(File.ReadAllBytes(plot), out var format);
        Assert.Equal(("PNG", 900, 560), (format.Name, image.Width, image.Height));
        Assert.Equal(2, Lcm("bench", "--only", "warm", "--plot", plot).ExitCode);
    }

    [Fact]
    public void Bench_realtime_drives_real_sessions_and_reports_frames_per_second_and_latency_per_configuration()
    {
        var run = Lcm("bench", "--only", "realtime", "--sizes", "64", "--seconds", "1", "--runs", "3", "--json");

        AssertExit(0, run);
        using var report = JsonDocument.Parse(run.Stdout);
        var rows = report.RootElement.GetProperty("realtime").GetProperty("rows").EnumerateArray().ToArray();
        // The built-in model has a tiny autoencoder: both decoders, each with 1 and 4 clients.
        Assert.Equal(["64 tiny 1", "64 tiny 4", "64 full 1", "64 full 4"],
            rows.Select(r => $"{r.GetProperty("size").GetInt32()} {r.GetProperty("decoder").GetString()} {r.GetProperty("clients").GetInt32()}"));
        foreach (var row in rows)
        {
            Assert.True(row.GetProperty("frames").GetInt32() >= 3, row.ToString());
            Assert.True(row.GetProperty("framesPerSecond").GetDouble() > 0, row.ToString());
            Assert.InRange(row.GetProperty("latencyP50Ms").GetDouble(), row.GetProperty("generateP50Ms").GetDouble(), row.GetProperty("latencyP95Ms").GetDouble());
            Assert.InRange(row.GetProperty("meanBatch").GetDouble(), 1, 4);
        }
        Assert.Equal(2, Lcm("bench", "--only", "warm", "--seconds", "3").ExitCode);
    }

    [Fact]
    public void Make_model_sdxl_then_info_shows_family_kind_defaults_and_image_to_image_rule_and_generate_runs()
    {
        string model = Path.Combine(folder.NewDirectory("made"), "sdxl");
        string output = Path.Combine(folder.NewDirectory("made-out"), "x.png");

        AssertExit(0, Lcm("make-model", "--output", model, "--family", "sdxl", "--kind", "lcm-lora", "--era", "legacy", "--fp16", "--fp32-vae"));

        var info = Lcm("info", "--model", model);
        AssertExit(0, info);
        Assert.Contains("family: SDXL (two text encoders, penultimate hidden states, text_embeds and time_ids)", info.Stdout);
        Assert.Contains("kind: LCM-LoRA (UNet without timestep_cond; classifier-free guidance above 1)", info.Stdout);
        Assert.Contains("negative prompt: absent gives zero embeddings (force_zeros_for_empty_prompt); an empty one is encoded", info.Stdout);
        Assert.Contains("image-to-image: generic img2img rule (the last min(floor(steps x strength), steps) timesteps of the full schedule)", info.Stdout);
        Assert.Contains("defaults: steps=4 guidance=1 (0..3) size=1024x1024", info.Stdout);
        Assert.Contains($"text_encoder_2: {Path.Combine(model, "text_encoder_2", "model.onnx")}", info.Stdout);
        Assert.Contains("  input  input_ids: Int32 [batch, 77]", info.Stdout);
        Assert.Contains("  input  timestep: Int64 [1]", info.Stdout);
        Assert.Contains("  input  text_embeds: Float16 [batch, 40]", info.Stdout);
        Assert.Contains("  input  time_ids: Float16 [batch, 6]", info.Stdout);
        Assert.Contains("  input  latent_sample: Float [batch, 4, latent_height, latent_width]", info.Stdout);
        Assert.Contains("scheduler:\n  num_train_timesteps=1000 beta_start=0.00085 beta_end=0.012 beta_schedule=scaled_linear", info.Stdout.ReplaceLineEndings("\n"));
        Assert.Contains("vae scaling_factor=0.13025", info.Stdout);

        var generate = Lcm("generate", "--model", model, "--prompt", "a cat!", "--output", output, "--width", "96", "--height", "64", "--steps", "2",
            "--guidance", "1.5", "--negative-prompt", "");
        AssertExit(0, generate);
        Assert.Equal((96, 64), Decode(output, typeof(PngFormat)));
    }

    [Fact]
    public void The_distilled_sd15_test_model_keeps_the_lcm_image_to_image_rule_in_info()
    {
        var info = Lcm("info");

        AssertExit(0, info);
        Assert.Contains("family: SD 1.5 (one text encoder, last hidden state)", info.Stdout);
        Assert.Contains("image-to-image: LCM img2img rule (floor(original_inference_steps x strength) origin steps, sampled at steps)", info.Stdout);
        Assert.Contains("defaults: steps=4 guidance=8.5 (0..20) size=512x512", info.Stdout);
        // The test model's UNet has no attention for LCM_ATTENTION_SLICING to split.
        Assert.Contains("attention unsplit (LCM_ATTENTION_SLICING)", info.Stdout);
    }

    [Theory]
    [InlineData("Unrecognized command or argument '--bogus'.", "--bogus", "1")]
    [InlineData("invalid_width: width must be a multiple of 8", "--width", "100")]
    [InlineData("--steps must be an integer, found 'abc'", "--steps", "abc")]
    [InlineData("--format must be png, jpeg or webp, found 'gif'", "--format", "gif")]
    [InlineData("Option '--prompt' is required.")]
    public void Bad_arguments_exit_2_naming_the_argument(string message, params string[] extra)
    {
        string output = Path.Combine(folder.NewDirectory("bad"), "x.png");
        string[] prompt = extra.Length == 0 ? [] : ["--prompt", "a cat"];

        var run = Lcm(["generate", .. prompt, "--output", output, "--steps", "1", .. extra]);

        AssertExit(2, run);
        Assert.Contains($"lcm generate: {message}", run.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Bad_model_folder_exits_1()
    {
        string model = folder.NewDirectory("empty-model");
        string output = Path.Combine(folder.NewDirectory("bad-model-out"), "x.png");

        var run = Lcm("generate", "--model", model, "--prompt", "a cat", "--output", output);

        AssertExit(1, run);
        Assert.Contains($"lcm generate: bad model folder: model folder '{model}' is missing", run.Stderr);
        Assert.False(File.Exists(output));
    }
}
