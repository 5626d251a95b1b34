using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests.Generation;

/// <summary>The whole pipeline on real ONNX Runtime sessions: sizes, encodings, seeds, counts, batches, progress and cancellation.</summary>
public sealed class PipelineTests(TestModels models) : IClassFixture<TestModels>
{
    // Width and height differ, so a swapped pair shows.
    private static GenerationRequest Request(long? seed = 42, int count = 1, string prompt = "a photo of a cat", int steps = 2) => new()
    {
        Prompt = prompt,
        Width = 128,
        Height = 96,
        Steps = steps,
        Seed = seed,
        Count = count,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Non_square_image_has_the_requested_size_and_round_trips_through_png(bool float16)
    {
        var result = models.Engine(float16).Generate(Request());

        var image = Assert.Single(result.Images);
        Assert.Equal((128, 96, 42L), (image.Width, image.Height, image.Seed));
        Assert.Equal(128 * 96 * 3, image.Rgb.Length);
        Assert.Empty(result.Warnings);
        Assert.Equal(2, result.Timings.UnetStepMs.Count);

        byte[] png = ImageEncoder.Encode(image, OutputFormat.Png);
        Assert.IsType<PngFormat>(Image.DetectFormat(png));
        using var decoded = Image.Load<Rgb24>(png);
        Assert.Equal((128, 96), (decoded.Width, decoded.Height));
        var pixels = new byte[128 * 96 * 3];
        decoded.CopyPixelDataTo(pixels);
        Assert.Equal(image.Rgb, pixels); // PNG is lossless
        // The tiny model's pictures are noise-like: a flat or nearly flat image means a broken stage.
        int distinct = Enumerable.Range(0, 128 * 96).Select(i => (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2])).Distinct().Count();
        Assert.True(distinct > 1000, $"only {distinct} distinct colours");
        Assert.True(pixels.Max() - pixels.Min() > 100, $"pixel range {pixels.Min()}..{pixels.Max()}");
    }

    [Theory]
    [InlineData(OutputFormat.Jpeg)]
    [InlineData(OutputFormat.Webp)]
    public void Lossy_encodings_decode_at_the_requested_size(OutputFormat format)
    {
        var image = models.Engine(float16: false).Generate(Request()).Images[0];

        byte[] bytes = ImageEncoder.Encode(image, format, quality: 80);
        var detected = Image.DetectFormat(bytes);
        Assert.True(format == OutputFormat.Jpeg ? detected is JpegFormat : detected is WebpFormat, $"detected {detected.Name}");
        using var decoded = Image.Load<Rgb24>(bytes);
        Assert.Equal((128, 96), (decoded.Width, decoded.Height));
        // Lossy (and the tiny model's pictures are all fine detail), but still nearer its own pixels than another image's.
        var pixels = new byte[128 * 96 * 3];
        decoded.CopyPixelDataTo(pixels);
        var other = models.Engine(float16: false).Generate(Request(seed: 43)).Images[0];
        double ownError = pixels.Zip(image.Rgb, (a, b) => Math.Abs(a - b)).Average();
        double otherError = pixels.Zip(other.Rgb, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(ownError < 0.75 * otherError, $"mean error {ownError} against its own pixels, {otherError} against another image's");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Same_seed_gives_identical_png_and_another_seed_another_image(bool float16)
    {
        var engine = models.Engine(float16);
        byte[] first = Images.Png(engine.Generate(Request(seed: 1234)));
        byte[] again = Images.Png(engine.Generate(Request(seed: 1234)));
        byte[] other = Images.Png(engine.Generate(Request(seed: 1235)));

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Separately_loaded_engines_make_identical_images()
    {
        using var second = LcmEngine.Load(models.Fp32Path, TestModels.Cpu);
        Assert.Equal(Images.Png(models.Engine(float16: false).Generate(Request(seed: 99))), Images.Png(second.Generate(Request(seed: 99))));
    }

    [Fact]
    public void Absent_seed_draws_a_reported_seed_that_reproduces_the_image()
    {
        var engine = models.Engine(float16: false);
        var random = engine.Generate(Request(seed: null)).Images[0];

        Assert.InRange(random.Seed, 0L, 4294967295L);
        Assert.Equal(Images.Png(random), Images.Png(engine.Generate(Request(seed: random.Seed))));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Count_three_uses_consecutive_seeds_each_as_a_single_run(bool float16)
    {
        var engine = models.Engine(float16);
        var result = engine.Generate(Request(seed: 500, count: 3));

        Assert.Equal([500L, 501L, 502L], result.Images.Select(i => i.Seed));
        for (int i = 0; i < 3; i++)
            Images.AssertSameImage(engine.Generate(Request(seed: 500 + i)).Images[0], result.Images[i]);
        var pngs = result.Images.Select(Images.Png).ToArray();
        Assert.NotEqual(pngs[0], pngs[1]);
        Assert.NotEqual(pngs[1], pngs[2]);
        Assert.NotEqual(pngs[0], pngs[2]);
    }

    [Fact]
    public void Seeds_wrap_around_after_the_largest()
    {
        var engine = models.Engine(float16: false);
        var result = engine.Generate(Request(seed: 4294967295, count: 2));

        Assert.Equal([4294967295L, 0L], result.Images.Select(i => i.Seed));
        Images.AssertSameImage(engine.Generate(Request(seed: 0)).Images[0], result.Images[1]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Batch_gives_each_request_the_images_it_gets_alone(bool float16)
    {
        var engine = models.Engine(float16);
        var cat = Request(seed: 10, count: 2) with { GuidanceScale = 4 };
        var dog = Request(seed: 77, prompt: "a painting of a dog in the snow") with { GuidanceScale = 12 };

        var batch = engine.GenerateBatch([cat, dog]);

        Assert.Equal(2, batch.Count);
        Assert.Equal([10L, 11L], batch[0].Images.Select(i => i.Seed));
        Assert.Equal([77L], batch[1].Images.Select(i => i.Seed));
        var catAlone = engine.Generate(cat);
        var dogAlone = engine.Generate(dog);
        Images.AssertSameImage(catAlone.Images[0], batch[0].Images[0]);
        Images.AssertSameImage(catAlone.Images[1], batch[0].Images[1]);
        Images.AssertSameImage(dogAlone.Images[0], batch[1].Images[0]);
        Assert.NotEqual(Images.Png(batch[0]), Images.Png(batch[1]));
    }

    [Fact]
    public void Batch_of_different_sizes_is_refused()
    {
        var engine = models.Engine(float16: false);
        Assert.Throws<ArgumentException>(() => engine.GenerateBatch([Request(), Request() with { Width = 96 }]));
        Assert.Throws<ArgumentException>(() => engine.GenerateBatch([Request(), Request(steps: 3)]));
    }

    [Fact]
    public void Progress_reports_every_step_in_order()
    {
        var progress = new RecordingProgress();
        models.Engine(float16: false).Generate(Request(steps: 4), progress);

        Assert.Equal([(1, 4), (2, 4), (3, 4), (4, 4)], progress.Reports.Select(p => (p.Step, p.Steps)));
    }

    [Fact]
    public void Cancel_after_the_first_step_throws_and_leaves_the_engine_usable()
    {
        var engine = models.Engine(float16: false);
        using var cancel = new CancellationTokenSource();
        var progress = new RecordingProgress(p =>
        {
            if (p.Step == 1) cancel.Cancel();
        });

        Assert.ThrowsAny<OperationCanceledException>(() => engine.Generate(Request(steps: 4), progress, cancel.Token));
        Assert.Equal([1], progress.Reports.Select(p => p.Step));

        // The device lock was released: the next run goes through and matches a fresh run.
        byte[] after = Images.Png(engine.Generate(Request(seed: 3, steps: 4)));
        Assert.Equal(Images.Png(engine.Generate(Request(seed: 3, steps: 4))), after);
    }

    [Fact]
    public void Already_canceled_token_throws_before_any_step()
    {
        var progress = new RecordingProgress();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            models.Engine(float16: false).Generate(Request(), progress, new CancellationToken(canceled: true)));
        Assert.Empty(progress.Reports);
    }

    [Fact]
    public async Task GenerateAsync_matches_Generate()
    {
        var engine = models.Engine(float16: false);
        var result = await engine.GenerateAsync(Request(seed: 8), null, CancellationToken.None);
        Assert.Equal(Images.Png(engine.Generate(Request(seed: 8))), Images.Png(result));
    }
}
