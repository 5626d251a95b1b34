using System.Diagnostics;
using System.Text.Json;
using Lcm.Engine;
using Lcm.Engine.Imaging;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Engine.Schedulers;
using Lcm.SyntheticModels;
using Lcm.Tests.Cli;
using Lcm.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests.Generation;

/// <summary>
/// Two fp32 self-made model folders, one per VAE encoder variant (<c>latent_sample</c> and
/// <c>latent_parameters</c>), with a CPU engine on each; shared by one test class. Deleted on dispose.
/// </summary>
public sealed class ImageToImageModels : IDisposable
{
    private readonly Dictionary<VaeEncoderKind, Lazy<LcmEngine>> _engines = [];

    public ImageToImageModels()
    {
        Root = Directory.CreateTempSubdirectory("lcm-img2img-tests-").FullName;
        foreach (var kind in new[] { VaeEncoderKind.LatentSample, VaeEncoderKind.LatentParameters })
        {
            string path = PathOf(kind);
            TestModelMaker.Write(path, new TestModelOptions { VaeEncoder = kind });
            _engines[kind] = new(() => LcmEngine.Load(path, TestModels.Cpu));
        }
    }

    public string Root { get; }

    public string PathOf(VaeEncoderKind kind) => Path.Combine(Root, kind.ToString());

    public LcmEngine Engine(VaeEncoderKind kind) => _engines[kind].Value;

    /// <summary>A copy of one variant's folder, for tests that change or delete files.</summary>
    public string Copy(VaeEncoderKind kind) => TestModels.CopyFolder(PathOf(kind), Path.Combine(Root, $"copy-{Guid.NewGuid():N}"));

    public void Dispose()
    {
        foreach (var engine in _engines.Values.Where(e => e.IsValueCreated)) engine.Value.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Init pictures made as real files with ImageSharp and read back through <see cref="ImageInput"/>.</summary>
internal static class InitImages
{
    /// <summary>A smooth gradient with a disc and a bar in it; <paramref name="variant"/> moves and recolours them.</summary>
    public static Image<Rgb24> Picture(int width, int height, int variant = 0)
    {
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    double dx = x - width * (0.35 + 0.3 * variant), dy = y - height * 0.5;
                    bool disc = dx * dx + dy * dy < height * height / 9.0;
                    bool bar = Math.Abs(y - height * (0.2 + 0.5 * variant)) < height / 12.0;
                    row[x] = disc ? new Rgb24(230, (byte)(40 + 150 * variant), 40)
                        : bar ? new Rgb24(20, 20, 120)
                        : new Rgb24((byte)(255 * x / width), (byte)(255 * y / height), (byte)(120 + 60 * variant));
                }
            }
        });
        return image;
    }

    public static byte[] Png(int width, int height, int variant = 0)
    {
        using var image = Picture(width, height, variant);
        using var stream = new MemoryStream();
        image.Save(stream, new PngEncoder());
        return stream.ToArray();
    }

    /// <summary>A PNG of another size (150x110) decoded and resized to the request's size, as a caller does.</summary>
    public static RgbImage At(int width, int height, int variant = 0) =>
        ImageInput.Decode(Png(150, 110, variant), width, height, new ImageInputLimits());
}

/// <summary>
/// Image-to-image through the engine on real ONNX Runtime sessions, with both VAE encoder variants:
/// sizes, seeds, strengths, the strength rule, batching, and a hand-computed run that shows the
/// engine uses diffusers' timesteps, sampling, scaling and noise order.
/// </summary>
public sealed class ImageToImageTests(ImageToImageModels models) : IClassFixture<ImageToImageModels>
{
    private const int Width = 128, Height = 96;
    private const string Prompt = "a watercolour of a harbour";

    private static readonly RgbImage Init = InitImages.At(Width, Height);

    private static GenerationRequest Request(long seed = 42, double? strength = 0.8, int steps = 4, int count = 1, RgbImage? init = null,
        string prompt = Prompt) => new()
    {
        Prompt = prompt,
        Width = Width,
        Height = Height,
        Steps = steps,
        GuidanceScale = 8.5,
        Seed = seed,
        Count = count,
        InitImage = init ?? Init,
        Strength = strength,
    };

    /// <summary>Share of RGB values that differ: a seed, strength or init image that reaches the pixels moves most of them.</summary>
    private static double Differing(GeneratedImage a, GeneratedImage b) =>
        a.Rgb.Zip(b.Rgb, (x, y) => x != y).Count(d => d) / (double)a.Rgb.Length;

    public static TheoryData<VaeEncoderKind, double> KindsAndStrengths => new()
    {
        { VaeEncoderKind.LatentSample, 0.3 }, { VaeEncoderKind.LatentSample, 0.5 }, { VaeEncoderKind.LatentSample, 0.8 }, { VaeEncoderKind.LatentSample, 1.0 },
        { VaeEncoderKind.LatentParameters, 0.3 }, { VaeEncoderKind.LatentParameters, 0.5 }, { VaeEncoderKind.LatentParameters, 0.8 }, { VaeEncoderKind.LatentParameters, 1.0 },
    };

    [Theory]
    [MemberData(nameof(KindsAndStrengths))]
    public void Image_to_image_is_sized_deterministic_and_moved_by_seed_and_strength(VaeEncoderKind kind, double strength)
    {
        var engine = models.Engine(kind);
        var progress = new RecordingProgress();

        var first = engine.Generate(Request(seed: 42, strength: strength), progress);
        var again = engine.Generate(Request(seed: 42, strength: strength));
        var otherSeed = engine.Generate(Request(seed: 43, strength: strength));
        var otherStrength = engine.Generate(Request(seed: 42, strength: strength == 0.5 ? 0.8 : 0.5));

        var image = Assert.Single(first.Images);
        Assert.Equal((Width, Height, 42L), (image.Width, image.Height, image.Seed));
        Assert.Equal(Width * Height * 3, image.Rgb.Length);
        Assert.Equal([1, 2, 3, 4], progress.Reports.Select(p => p.Step));
        Assert.True(first.Timings.VaeEncoderMs > 0, "the VAE encoder ran");
        Assert.Equal(Images.Png(first), Images.Png(again));
        Assert.True(Differing(image, otherSeed.Images[0]) > 0.5, $"another seed changed {Differing(image, otherSeed.Images[0]):P0} of the values");
        Assert.True(Differing(image, otherStrength.Images[0]) > 0.5, $"another strength changed {Differing(image, otherStrength.Images[0]):P0} of the values");

        // Count 2: seeds s and s + 1, each the image its single run makes (one UNet batch of two, so up to float rounding).
        var pair = engine.Generate(Request(seed: 42, strength: strength, count: 2));
        Assert.Equal([42L, 43L], pair.Images.Select(i => i.Seed));
        Images.AssertSameImage(image, pair.Images[0]);
        Images.AssertSameImage(otherSeed.Images[0], pair.Images[1]);
    }

    [Theory]
    [InlineData(VaeEncoderKind.LatentSample)]
    [InlineData(VaeEncoderKind.LatentParameters)]
    public void Init_image_reaches_the_pixels_and_defaults_to_strength_0_8(VaeEncoderKind kind)
    {
        var engine = models.Engine(kind);

        var base_ = engine.Generate(Request(strength: 0.8)).Images[0];
        var defaulted = engine.Generate(Request(strength: null)).Images[0];
        var otherInit = engine.Generate(Request(strength: 0.8, init: InitImages.At(Width, Height, variant: 1))).Images[0];
        var textToImage = engine.Generate(Request(strength: null) with { InitImage = null }).Images[0];

        Assert.Equal(base_.Rgb, defaulted.Rgb);
        // At strength 0.8 the init image is mostly noised away in this tiny model; about a quarter of the values still move.
        Assert.True(Differing(base_, otherInit) > 0.1, $"another init image changed {Differing(base_, otherInit):P0} of the values");
        Assert.True(Differing(base_, textToImage) > 0.5, $"text-to-image differs in {Differing(base_, textToImage):P0} of the values");
    }

    // ---- the strength rule and the engine's use of it ----------------------------------------

    private static JsonElement Vectors() =>
        JsonDocument.Parse(File.ReadAllText(SharedData.PathOf("lcm-reference/scheduler_vectors.json"))).RootElement;

    private static (int Steps, double Strength, int[] Timesteps)[] StrengthVectors() =>
        Vectors().GetProperty("timesteps_strength").EnumerateArray()
            .Select(e => (e.GetProperty("steps").GetInt32(), e.GetProperty("strength").GetDouble(),
                e.GetProperty("timesteps").EnumerateArray().Select(t => t.GetInt32()).ToArray()))
            .ToArray();

    [Fact]
    public void Timesteps_for_a_strength_match_diffusers_in_the_reference_and_the_engines_scheduler()
    {
        var vectors = Vectors();
        var reference = new LcmScheduler(SchedulerConfig.Parse(vectors.GetProperty("config").GetRawText()));
        var engine = models.Engine(VaeEncoderKind.LatentParameters);
        var cases = StrengthVectors();
        Assert.NotEmpty(cases);
        foreach (var (steps, strength, expected) in cases)
        {
            Assert.Equal(expected, reference.Timesteps(steps, strength));
            Assert.Equal(expected, engine.Scheduler.Timesteps(steps, strength));
            // And the engine takes such a request: as many UNet steps as timesteps.
            var progress = new RecordingProgress();
            engine.Generate(Request(steps: steps, strength: strength), progress);
            Assert.Equal(steps, progress.Reports.Count);
        }
    }

    [Theory]
    [InlineData(VaeEncoderKind.LatentParameters, 1, 0.25)]
    [InlineData(VaeEncoderKind.LatentParameters, 2, 0.5)]
    [InlineData(VaeEncoderKind.LatentSample, 1, 0.25)]
    public void Run_equals_the_hand_computed_pipeline_at_diffusers_timesteps(VaeEncoderKind kind, int steps, double strength)
    {
        // The timesteps come from diffusers' reference file, not from the engine's scheduler.
        int[] timesteps = StrengthVectors().Single(v => v.Steps == steps && v.Strength == strength).Timesteps;
        const long seed = 2024;

        byte[] actual = models.Engine(kind).Generate(Request(seed: seed, strength: strength, steps: steps)).Images[0].Rgb;
        byte[] expected = HandComputed(models.PathOf(kind), kind, Init, seed, timesteps);

        // Exactly, as in EngineMathsTests: the same graphs on the CPU provider at batch size 1.
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_wrong_timestep_scaling_or_draw_order_would_change_the_pixels()
    {
        // Guards the test above: its expectation is sensitive to what it claims to check.
        var kind = VaeEncoderKind.LatentParameters;
        string path = models.PathOf(kind);
        byte[] right = HandComputed(path, kind, Init, 7, [239]);
        Assert.NotEqual(right, HandComputed(path, kind, Init, 7, [249]));
        Assert.NotEqual(right, HandComputed(path, kind, Init, 7, [239], scalingFactor: 1.0));
        Assert.NotEqual(right, HandComputed(path, kind, Init, 7, [239], noiseBeforePosterior: true));
        Assert.NotEqual(right, HandComputed(path, kind, InitImages.At(Width, Height, variant: 1), 7, [239]));
    }

    /// <summary>
    /// diffusers' LatentConsistencyModelImg2ImgPipeline by hand on the model's own graphs: encode,
    /// sample the posterior (latent_parameters) with the image's generator, scale, add noise at the
    /// first timestep with the same generator, then UNet and scheduler steps, then decode.
    /// </summary>
    private static byte[] HandComputed(string modelPath, VaeEncoderKind kind, RgbImage init, long seed, int[] timesteps,
        double scalingFactor = 0.18215, bool noiseBeforePosterior = false) =>
        new ReferencePipeline(modelPath).Run(new ReferenceRun(Prompt, seed, Width, Height)
        {
            Timesteps = timesteps,
            Init = (init, kind),
            ScalingFactor = scalingFactor,
            NoiseBeforePosterior = noiseBeforePosterior,
        });

    // ---- refused requests --------------------------------------------------------------------

    private static InvalidRequestException Refused(LcmEngine engine, GenerationRequest request, string code)
    {
        var validate = Assert.Throws<InvalidRequestException>(() => engine.Validate(request));
        var generate = Assert.Throws<InvalidRequestException>(() => engine.Generate(request));
        Assert.Equal(code, validate.Code);
        Assert.Equal(code, generate.Code);
        return validate;
    }

    [Fact]
    public void Strength_too_small_for_the_steps_is_refused_naming_the_numbers()
    {
        var engine = models.Engine(VaeEncoderKind.LatentParameters);

        // diffusers: int(50 * 0.05) = 2 origin timesteps cannot give 4 steps.
        var error = Refused(engine, Request(steps: 4, strength: 0.05), "invalid_strength");

        Assert.Equal("original_inference_steps x strength (50 x 0.05) is smaller than steps (4): use at most 2 steps or a strength of at least 0.08", error.Message);
        // The suggestions work: 2 steps at 0.05, or 4 steps at 0.08 (int(50 * 0.08) = 4).
        engine.Validate(Request(steps: 2, strength: 0.05));
        engine.Validate(Request(steps: 4, strength: 0.08));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    [InlineData(-0.3)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Strength_outside_0_to_1_is_refused(double strength)
    {
        var error = Refused(models.Engine(VaeEncoderKind.LatentSample), Request(strength: strength), "invalid_strength");
        Assert.Equal($"strength must be in (0, 1], found {strength}", error.Message);
    }

    [Fact]
    public void Strength_without_an_init_image_is_refused()
    {
        var error = Refused(models.Engine(VaeEncoderKind.LatentSample), Request(strength: 0.5) with { InitImage = null }, "invalid_strength");
        Assert.Contains("init image", error.Message);
    }

    [Fact]
    public void Init_image_of_another_size_is_refused()
    {
        var engine = models.Engine(VaeEncoderKind.LatentSample);
        var error = Refused(engine, Request(init: InitImages.At(96, 128)), "invalid_init_image");
        Assert.Equal("the init image is 96x128; it must be resized to the requested 128x96", error.Message);
        // Right size claimed, wrong number of bytes.
        Refused(engine, Request(init: new RgbImage(new byte[Width * Height * 3 - 3], Width, Height)), "invalid_init_image");
    }

    [Fact]
    public void Model_folder_without_a_vae_encoder_refuses_image_to_image_only()
    {
        string copy = models.Copy(VaeEncoderKind.LatentSample);
        Directory.Delete(Path.Combine(copy, "vae_encoder"), recursive: true);
        using var engine = LcmEngine.Load(copy, TestModels.Cpu);

        var error = Refused(engine, Request(), "image_to_image_unsupported");
        Assert.Contains(copy, error.Message);
        Assert.Contains("vae_encoder", error.Message);
        // Text-to-image still works there.
        Assert.Single(engine.Generate(Request(strength: null) with { InitImage = null, Steps = 1 }).Images);
    }

    // ---- batches -----------------------------------------------------------------------------

    [Fact]
    public void Batch_refuses_mixed_strengths()
    {
        var engine = models.Engine(VaeEncoderKind.LatentParameters);

        var mixed = Assert.Throws<ArgumentException>(() => engine.GenerateBatch([Request(strength: 0.5), Request(strength: 0.8)]));
        Assert.Contains("strength", mixed.Message);
        // Text-to-image runs at strength 1, so it cannot join image-to-image at 0.8 either.
        Assert.Throws<ArgumentException>(() => engine.GenerateBatch([Request(strength: 0.8), Request(strength: null) with { InitImage = null }]));
    }

    [Theory]
    [InlineData(VaeEncoderKind.LatentSample)]
    [InlineData(VaeEncoderKind.LatentParameters)]
    public void Batch_of_two_image_to_image_requests_gives_their_single_run_images(VaeEncoderKind kind)
    {
        var engine = models.Engine(kind);
        var first = Request(seed: 5, strength: 0.6);
        var second = Request(seed: 900, strength: 0.6, init: InitImages.At(Width, Height, variant: 1), prompt: "a lighthouse at night");

        var batch = engine.GenerateBatch([first, second]);

        Assert.Equal(2, batch.Count);
        Images.AssertSameImage(engine.Generate(first).Images[0], batch[0].Images[0]);
        Images.AssertSameImage(engine.Generate(second).Images[0], batch[1].Images[0]);
    }

    [Fact]
    public void Text_to_image_and_image_to_image_at_strength_1_share_a_batch()
    {
        // Both run the whole schedule, so they share a batch key; each still starts from its own latents.
        var engine = models.Engine(VaeEncoderKind.LatentParameters);
        var text = Request(seed: 11, strength: null) with { InitImage = null };
        var image = Request(seed: 12, strength: 1.0);

        var batch = engine.GenerateBatch([text, image]);

        Images.AssertSameImage(engine.Generate(text).Images[0], batch[0].Images[0]);
        Images.AssertSameImage(engine.Generate(image).Images[0], batch[1].Images[0]);
    }
}

/// <summary><c>lcm generate --init-image</c> through the real entry point, as a separate process on the built-in test model.</summary>
public sealed class ImageToImageCliTests(CliFolder folder) : IClassFixture<CliFolder>
{
    private LcmRun Lcm(params string[] args) => folder.Lcm(args);

    private LcmRun Lcm(IReadOnlyDictionary<string, string> environment, params string[] args) => folder.Lcm(environment, args);

    private static void AssertExit(int expected, LcmRun run) => LcmRun.AssertExit(expected, run);

    private static (int Width, int Height) SizeOf(string path)
    {
        using var image = Image.Load<Rgb24>(File.ReadAllBytes(path));
        return (image.Width, image.Height);
    }

    [Fact]
    public void Init_image_without_a_size_gives_its_own_size_rounded_down_to_multiples_of_8()
    {
        string dir = folder.NewDirectory("img2img");
        string init = Path.Combine(dir, "X.png"), output = Path.Combine(dir, "Y.png");
        byte[] png = InitImages.Png(150, 101);
        File.WriteAllBytes(init, png);

        var run = Lcm("generate", "--init-image", init, "--prompt", "a harbour at dawn", "--output", output, "--seed", "1");

        AssertExit(0, run);
        Assert.Equal($"{output} (seed 1, 144x96)", run.Stdout.Trim());
        Assert.Equal((144, 96), SizeOf(output));

        // The same request in process: default steps (4), guidance and strength (0.8), the image resized to 144x96.
        using var engine = LcmEngine.Load(folder.BuiltInModel, TestModels.Cpu with { PreparedCacheDirectory = Path.Combine(folder.CacheDirectory, "prepared") });
        var expected = engine.Generate(new GenerationRequest
        {
            Prompt = "a harbour at dawn",
            Width = 144,
            Height = 96,
            Seed = 1,
            InitImage = ImageInput.Decode(png, 144, 96, new ImageInputLimits()),
        });
        Assert.Equal(Images.Png(expected), File.ReadAllBytes(output));
    }

    [Fact]
    public void Init_image_format_comes_from_content_and_its_size_from_its_exif_orientation()
    {
        // A JPEG stored 160x96 with EXIF orientation 6 (shown 96x160), named .png: read as a JPEG, generated upright.
        string dir = folder.NewDirectory("img2img-rotated");
        string init = Path.Combine(dir, "rotated.png"), output = Path.Combine(dir, "out.png");
        using (var image = InitImages.Picture(160, 96))
        {
            image.Metadata.ExifProfile = new ExifProfile();
            image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
            image.Save(init, new JpegEncoder());
        }

        var run = Lcm("generate", "--init-image", init, "--prompt", "a harbour", "--output", output, "--seed", "3", "--steps", "1", "--strength", "0.5");

        AssertExit(0, run);
        Assert.Equal((96, 160), SizeOf(output));
    }

    [Fact]
    public void Explicit_size_overrides_the_init_images_own()
    {
        string dir = folder.NewDirectory("img2img-sized");
        string init = Path.Combine(dir, "X.png"), output = Path.Combine(dir, "Y.png");
        File.WriteAllBytes(init, InitImages.Png(150, 101));

        var run = Lcm("generate", "--init-image", init, "--prompt", "a harbour", "--output", output, "--seed", "1", "--steps", "1",
            "--width", "64", "--height", "128");

        AssertExit(0, run);
        Assert.Equal((64, 128), SizeOf(output));
    }

    [Fact]
    public void Strength_too_small_for_the_steps_exits_2_naming_invalid_strength()
    {
        string dir = folder.NewDirectory("img2img-strength");
        string init = Path.Combine(dir, "X.png"), output = Path.Combine(dir, "Y.png");
        File.WriteAllBytes(init, InitImages.Png(128, 96));

        var run = Lcm("generate", "--init-image", init, "--prompt", "a harbour", "--output", output, "--strength", "0.05");

        AssertExit(2, run);
        Assert.Contains("lcm generate: invalid_strength: original_inference_steps x strength (50 x 0.05) is smaller than steps (4)", run.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Text_file_as_init_image_exits_2_with_unsupported_image()
    {
        string dir = folder.NewDirectory("img2img-text");
        string notes = Path.Combine(dir, "notes.txt"), output = Path.Combine(dir, "Y.png");
        File.WriteAllText(notes, "a harbour at dawn, 512x512\n");

        var run = Lcm("generate", "--init-image", notes, "--prompt", "a harbour", "--output", output);

        AssertExit(2, run);
        Assert.Contains("lcm generate: unsupported_image: the image is not a PNG, JPEG or WebP file", run.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Init_image_over_max_input_bytes_exits_2_with_image_too_large()
    {
        string dir = folder.NewDirectory("img2img-bytes");
        string init = Path.Combine(dir, "X.png"), output = Path.Combine(dir, "Y.png");
        byte[] png = InitImages.Png(150, 101);
        Assert.True(png.Length > 1024, $"{png.Length} bytes");
        File.WriteAllBytes(init, png);

        var run = Lcm(new Dictionary<string, string> { ["LCM_MAX_INPUT_BYTES"] = "1024" },
            "generate", "--init-image", init, "--prompt", "a harbour", "--output", output);

        AssertExit(2, run);
        Assert.Contains($"lcm generate: image_too_large: the image is {png.Length} bytes; at most 1024 are accepted", run.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Huge_init_image_file_is_refused_by_its_length_without_reading_it()
    {
        // A sparse 3 GiB file (no disk blocks behind it): read whole it could not even be held in one
        // array; refused from its length, it exits 2 like any file over LCM_MAX_INPUT_BYTES (20 MiB by default).
        string dir = folder.NewDirectory("img2img-huge");
        string init = Path.Combine(dir, "huge.png"), output = Path.Combine(dir, "Y.png");
        using (var file = File.Create(init))
        {
            file.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
            file.SetLength(3L << 30);
        }

        var run = Lcm("generate", "--init-image", init, "--prompt", "a harbour", "--output", output);

        AssertExit(2, run);
        Assert.Contains($"lcm generate: image_too_large: the image is {3L << 30} bytes; at most {20L << 20} are accepted", run.Stderr);
    }

    [Fact]
    public void Missing_init_image_exits_2()
    {
        string dir = folder.NewDirectory("img2img-missing");
        string missing = Path.Combine(dir, "nowhere.png"), output = Path.Combine(dir, "Y.png");

        var run = Lcm("generate", "--init-image", missing, "--prompt", "a harbour", "--output", output);

        AssertExit(2, run);
        Assert.Contains($"lcm generate: --init-image: no file '{missing}'", run.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Strength_without_an_init_image_exits_2()
    {
        string output = Path.Combine(folder.NewDirectory("img2img-no-init"), "Y.png");

        var run = Lcm("generate", "--prompt", "a harbour", "--output", output, "--strength", "0.5");

        AssertExit(2, run);
        Assert.Contains("lcm generate: invalid_strength: strength applies to image-to-image only", run.Stderr);
    }
}
