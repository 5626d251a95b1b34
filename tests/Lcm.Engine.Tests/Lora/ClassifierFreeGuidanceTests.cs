using Lcm.Engine.Pipelines;
using Lcm.Tests.Generation;
using Lcm.Tests.Support;

namespace Lcm.Tests.Lora;

/// <summary>
/// Guidance on a three-input UNet, as diffusers runs LCM-LoRA: above 1, one UNet batch of
/// [unconditional (the negative prompt), conditional] and eps = eps_u + g * (eps_c - eps_u); at 1 or
/// below, the conditional pass alone. Checked against a one-step run recomputed by hand.
/// </summary>
public sealed class ClassifierFreeGuidanceTests(LoraFixture fixture) : IClassFixture<LoraFixture>
{
    private const int Width = 96, Height = 64;
    private const string Prompt = "a photo of a cat";
    private const long Seed = 2024;

    private static GenerationRequest Request(double? guidance, string? negative) => new()
    {
        Prompt = Prompt,
        Width = Width,
        Height = Height,
        Steps = 1,
        Seed = Seed,
        GuidanceScale = guidance,
        NegativePrompt = negative,
    };

    [Theory]
    [InlineData(2.5, "blurry, low quality")]
    [InlineData(1.7, null)]
    public void Guidance_above_one_equals_the_hand_computed_unconditional_and_conditional_batch(double guidance, string? negative)
    {
        using var engine = LcmEngine.Load(fixture.Model(false), TestModels.Cpu);

        var result = engine.Generate(Request(guidance, negative));

        Assert.Empty(result.Warnings);
        Assert.Equal(HandComputed(fixture.Model(false), guidance, negative ?? ""), result.Images[0].Rgb);
    }

    [Fact]
    public void Guidance_of_one_or_less_runs_the_conditional_pass_only_and_ignores_the_negative_prompt_with_a_warning()
    {
        using var engine = LcmEngine.Load(fixture.Model(false), TestModels.Cpu);

        var plain = engine.Generate(Request(1.0, null));
        var negative = engine.Generate(Request(1.0, "blurry"));

        Assert.Equal(HandComputed(fixture.Model(false), 1.0, negative: null), plain.Images[0].Rgb);
        Assert.Equal(plain.Images[0].Rgb, negative.Images[0].Rgb);
        Assert.Equal(["negativePrompt is ignored at guidanceScale 1 (classifier-free guidance runs only above 1)"], negative.Warnings);
        Assert.NotEqual(engine.Generate(Request(2.0, "blurry")).Images[0].Rgb, engine.Generate(Request(2.0, "sharp")).Images[0].Rgb);
    }

    [Fact]
    public void Image_to_image_on_an_lcm_lora_model_runs_the_last_timesteps_of_the_full_schedule_as_the_generic_img2img_pipeline()
    {
        using var engine = LcmEngine.Load(fixture.Model(false), TestModels.Cpu);
        var init = InitImages.At(Width, Height);

        var result = engine.Generate(Request(1.0, null) with { Steps = 4, InitImage = init, Strength = 0.5 });

        var run = new ReferenceRun(Prompt, Seed, Width, Height)
        {
            Guidance = 1.0,
            GuidanceKind = ReferenceGuidance.ClassifierFree,
            Timesteps = [499, 259],
            Init = (init, Lcm.SyntheticModels.VaeEncoderKind.LatentSample),
        };
        Assert.Equal(ImageToImageRule.LastOfSchedule, engine.Capabilities.ImageToImage);
        Assert.Equal(new ReferencePipeline(fixture.Model(false)).Run(run), result.Images[0].Rgb);
        // The LCM img2img rule would run 499, 379, 259, 139 (25 origin steps sampled at 4).
        Assert.NotEqual(new ReferencePipeline(fixture.Model(false)).Run(run with { Timesteps = [499, 379, 259, 139] }), result.Images[0].Rgb);
    }

    [Fact]
    public void A_distilled_lcm_ignores_the_negative_prompt_with_a_warning()
    {
        using var models = new TestModels();
        var engine = models.Engine(float16: false);

        var result = engine.Generate(Request(8.5, "blurry"));

        Assert.Equal(engine.Generate(Request(8.5, null)).Images[0].Rgb, result.Images[0].Rgb);
        Assert.Equal(["negativePrompt is ignored: a distilled LCM has no unconditional pass"], result.Warnings);
    }

    [Fact]
    public void Requests_at_different_guidance_share_a_batch_and_each_gets_its_own_image()
    {
        using var engine = LcmEngine.Load(fixture.Model(false), TestModels.Cpu);
        var guided = Request(2.5, "blurry");
        var unguided = Request(1.0, null) with { Seed = Seed + 1 };

        var batch = engine.GenerateBatch([guided, unguided]);

        Images.AssertSameImage(engine.Generate(guided).Images[0], batch[0].Images[0]);
        Images.AssertSameImage(engine.Generate(unguided).Images[0], batch[1].Images[0]);
    }

    /// <summary>
    /// Text encoder on the prompt and on the negative prompt (one run each, as the engine does), the
    /// UNet at t = 999 on [unconditional, conditional] (or the conditional alone at guidance 1 or below),
    /// the guided noise prediction, the last scheduler step and the VAE decoder.
    /// </summary>
    private static byte[] HandComputed(string modelPath, double guidance, string? negative) =>
        new ReferencePipeline(modelPath).Run(new ReferenceRun(Prompt, Seed, Width, Height)
        {
            Guidance = guidance,
            GuidanceKind = ReferenceGuidance.ClassifierFree,
            NegativePrompt = negative ?? "",
        });
}
