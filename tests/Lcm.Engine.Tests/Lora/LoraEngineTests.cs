using Lcm.Engine;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;

namespace Lcm.Tests.Lora;

/// <summary>
/// The engine on SD 1.5-style models: a three-input UNet is an LCM-LoRA kind with its own guidance
/// limits, and LoRAs merged at load give the pictures of a model written with them merged.
/// </summary>
public sealed class LoraEngineTests(LoraFixture fixture) : IClassFixture<LoraFixture>
{
    private static GenerationRequest Request(IReadOnlyList<LoraReference>? loras = null) => new()
    {
        Prompt = "a photo of a cat",
        Width = 96,
        Height = 64,
        Steps = 2,
        Seed = 5,
        GuidanceScale = 1.5,
        NegativePrompt = "blurry",
        Loras = loras ?? [],
    };

    private EngineOptions Options(string? prepared = null) =>
        TestModels.Cpu with { MergedModelDirectory = fixture.NewDirectory("merged"), PreparedCacheDirectory = prepared };

    [Fact]
    public void A_unet_without_timestep_cond_is_the_lcm_lora_kind_with_its_guidance_limits()
    {
        using var engine = LcmEngine.Load(fixture.Model(false), TestModels.Cpu);

        Assert.Equal(ModelKind.LcmLora, engine.Kind);
        Assert.Null(engine.TimeCondDim);
        Assert.Equal(new GuidanceLimits(1.0, 3.0), engine.Capabilities.Guidance);
        var error = Assert.Throws<InvalidRequestException>(() => engine.Validate(Request() with { GuidanceScale = 3.5 }));
        Assert.Equal("invalid_guidance_scale", error.Code);
        Assert.Contains("0..3 for this model", error.Message);
        // Absent guidance takes the kind's default, 1.
        Assert.Equal(engine.Generate(Request() with { GuidanceScale = 1.0, NegativePrompt = null }).Images[0].Rgb,
            engine.Generate(Request() with { GuidanceScale = null, NegativePrompt = null }).Images[0].Rgb);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_lora_merged_at_load_gives_the_image_of_a_model_written_with_it_merged(bool float16)
    {
        var (style, styleModules) = fixture.Lora(new TestLoraOptions { Seed = 11 }, scale: 0.8, name: "style");
        var (other, otherModules) = fixture.Lora(new TestLoraOptions { Seed = 12, Format = LoraKeyFormat.Peft }, scale: 0.5, name: "other");
        string premerged = fixture.PreMerged(float16, LoraFixture.ExpectedDeltas((styleModules, 0.8), (otherModules, 0.5)));

        using var merged = LcmEngine.Load(fixture.Model(float16), Options(), loras: [style, other]);
        using var expected = LcmEngine.Load(premerged, TestModels.Cpu);
        using var plain = LcmEngine.Load(fixture.Model(float16), TestModels.Cpu);

        var image = merged.Generate(Request([style.Reference, other.Reference])).Images[0];
        Images.AssertSameImage(expected.Generate(Request()).Images[0], image);
        var unmerged = plain.Generate(Request()).Images[0];
        Assert.True(image.Rgb.Zip(unmerged.Rgb, (a, b) => a != b).Count(d => d) > image.Rgb.Length / 2, "the LoRA changes the picture");
    }

    [Fact]
    public void A_merged_model_is_prepared_and_its_weights_mapped_like_any_prepared_model()
    {
        var (file, _) = fixture.Lora(new TestLoraOptions());
        string prepared = fixture.NewDirectory("prepared");
        var options = Options(prepared);

        using var engine = LcmEngine.Load(fixture.Model(false), options, loras: [file]);
        engine.Generate(Request([file.Reference]));

        string mergedUnet = Assert.Single(Directory.GetDirectories(options.MergedModelDirectory!, "unet-*"));
        string preparedUnet = Assert.Single(Directory.GetDirectories(prepared, "unet-*"));
        Assert.StartsWith($"{Path.GetFileName(mergedUnet)}-", Path.GetFileName(preparedUnet));
        if (OperatingSystem.IsLinux())
            Assert.Contains(File.ReadLines("/proc/self/maps"), line => line.EndsWith(Path.Combine(preparedUnet, "model.onnx.data"), StringComparison.Ordinal));
    }

    [Fact]
    public void An_engine_refuses_requests_for_other_loras_than_it_merged()
    {
        var (file, _) = fixture.Lora(new TestLoraOptions(), name: "style");
        using var engine = LcmEngine.Load(fixture.Model(false), Options(), loras: [file]);

        Assert.Equal("invalid_loras", Assert.Throws<InvalidRequestException>(() => engine.Validate(Request())).Code);
        Assert.Equal("invalid_loras", Assert.Throws<InvalidRequestException>(() => engine.Validate(Request([new LoraReference("style", 0.5)]))).Code);
        engine.Validate(Request([new LoraReference("style")]));
    }
}
