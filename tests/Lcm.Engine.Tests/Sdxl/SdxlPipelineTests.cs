using Lcm.Engine;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Engine.Text;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using Lcm.Tests.Support;

namespace Lcm.Tests.Sdxl;

/// <summary>
/// SDXL-class folders through the engine against diffusers' StableDiffusionXLPipeline (and its img2img
/// pipeline) with LCMScheduler, recomputed by hand on the same graphs (<see cref="ReferencePipeline"/>):
/// both kinds, both export eras, float16, guidance with and without a negative prompt, zero negatives,
/// non-square sizes and prompts with "!". Each reference is also shown to move under the mistakes it
/// guards against (last_hidden_state, swapped time_ids, tokenizer_2 padding with 49407).
/// </summary>
public sealed class SdxlPipelineTests(SdxlModels models) : IClassFixture<SdxlModels>
{
    private const int Width = 96, Height = 64;
    private const string Prompt = "a photo of a cat!";

    private static readonly TestModelOptions Distilled = SdxlModels.Options(ModelKind.Distilled);
    private static readonly TestModelOptions Lora = SdxlModels.Options(ModelKind.LcmLora);

    private static GenerationRequest Request(double? guidance = null, string? negative = null, int steps = 1, long seed = 11) => new()
    {
        Prompt = Prompt,
        Width = Width,
        Height = Height,
        Steps = steps,
        Seed = seed,
        GuidanceScale = guidance,
        NegativePrompt = negative,
    };

    private static ReferenceRun Run(double guidance, ReferenceGuidance kind, long seed = 11) =>
        new(Prompt, seed, Width, Height) { Guidance = guidance, GuidanceKind = kind };

    [Fact]
    public void The_folder_decides_family_kind_defaults_and_image_to_image_rule()
    {
        var distilled = models.Engine(Distilled).Capabilities;
        var lora = models.Engine(Lora).Capabilities;

        Assert.Equal((ModelFamily.StableDiffusionXL, ModelKind.Distilled, 8.0, 1024, 1024, ImageToImageRule.LastOfSchedule),
            (distilled.Family, distilled.Kind, distilled.Guidance.Default, distilled.DefaultWidth, distilled.DefaultHeight, distilled.ImageToImage));
        Assert.Equal((ModelFamily.StableDiffusionXL, ModelKind.LcmLora, 1.0, 3.0, 1024, ImageToImageRule.LastOfSchedule),
            (lora.Family, lora.Kind, lora.Guidance.Default, lora.Guidance.Max, lora.DefaultWidth, lora.ImageToImage));
        Assert.Equal(["text_encoder", "text_encoder_2", "unet", "vae_decoder", "vae_encoder", "vae_decoder_tiny", "vae_encoder_tiny"], models.Engine(Lora).Graphs.Select(g => g.Name));
    }

    [Theory]
    [InlineData(ExportEra.Current, 1)]
    [InlineData(ExportEra.Legacy, 1)]
    [InlineData(ExportEra.Current, 2)]
    public void Distilled_lcm_sdxl_equals_the_hand_computed_pipeline(ExportEra era, int steps)
    {
        var options = SdxlModels.Options(ModelKind.Distilled, era);
        int[] timesteps = steps == 1 ? [999] : [999, 499];

        var result = models.Engine(options).Generate(Request(steps: steps));

        var reference = new ReferencePipeline(models.PathOf(options));
        Assert.Equal(reference.Run(Run(8.0, ReferenceGuidance.Embedded) with { Timesteps = timesteps }), result.Images[0].Rgb);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void The_reference_moves_under_each_mistake_it_guards_against()
    {
        var reference = new ReferencePipeline(models.PathOf(Distilled));
        var right = reference.Run(Run(8.0, ReferenceGuidance.Embedded));

        Assert.NotEqual(right, reference.Run(Run(8.0, ReferenceGuidance.Embedded) with { LastHiddenState = true }));
        Assert.NotEqual(right, reference.Run(Run(8.0, ReferenceGuidance.Embedded) with { SwappedTimeIds = true }));
        Assert.NotEqual(right, reference.Run(Run(8.0, ReferenceGuidance.Embedded) with { SecondTokenizerLikeFirst = true }));
        Assert.NotEqual(right, reference.Run(Run(5.0, ReferenceGuidance.Embedded)));
    }

    [Theory]
    [InlineData(ExportEra.Current)]
    [InlineData(ExportEra.Legacy)]
    public void Lcm_lora_sdxl_above_guidance_one_is_classifier_free_with_the_negative_prompt(ExportEra era)
    {
        var options = SdxlModels.Options(ModelKind.LcmLora, era);
        var reference = new ReferencePipeline(models.PathOf(options));

        var result = models.Engine(options).Generate(Request(2.0, "blurry, low quality"));

        Assert.Equal(reference.Run(Run(2.0, ReferenceGuidance.ClassifierFree) with { NegativePrompt = "blurry, low quality" }), result.Images[0].Rgb);
    }

    [Fact]
    public void Without_a_negative_prompt_the_negatives_are_zeros_and_an_empty_one_is_encoded()
    {
        var engine = models.Engine(Lora);
        var reference = new ReferencePipeline(models.PathOf(Lora));

        byte[] absent = engine.Generate(Request(2.0, negative: null)).Images[0].Rgb;
        byte[] empty = engine.Generate(Request(2.0, negative: "")).Images[0].Rgb;

        Assert.Equal(reference.Run(Run(2.0, ReferenceGuidance.ClassifierFree) with { NegativePrompt = null }), absent);
        Assert.Equal(reference.Run(Run(2.0, ReferenceGuidance.ClassifierFree) with { NegativePrompt = "" }), empty);
        Assert.NotEqual(absent, empty);
    }

    [Fact]
    public void Without_force_zeros_for_empty_prompt_an_absent_negative_prompt_is_the_empty_text()
    {
        var options = Lora with { ForceZerosForEmptyPrompt = false };
        var engine = models.Engine(options);

        Assert.Equal(engine.Generate(Request(2.0, negative: "")).Images[0].Rgb, engine.Generate(Request(2.0, negative: null)).Images[0].Rgb);
    }

    [Fact]
    public void At_guidance_one_lcm_lora_sdxl_runs_the_conditional_pass_alone()
    {
        var result = models.Engine(Lora).Generate(Request());

        Assert.Equal(new ReferencePipeline(models.PathOf(Lora)).Run(Run(1.0, ReferenceGuidance.ClassifierFree)), result.Images[0].Rgb);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Float16_graphs_and_a_float16_unet_beside_a_float32_vae_equal_the_hand_computed_pipeline(bool float32Vae)
    {
        var options = Lora with { Float16 = true, Float32Vae = float32Vae };

        var result = models.Engine(options).Generate(Request(2.0, "blurry"));

        var expected = new ReferencePipeline(models.PathOf(options)).Run(Run(2.0, ReferenceGuidance.ClassifierFree) with { NegativePrompt = "blurry" });
        Assert.Equal(expected, result.Images[0].Rgb);
    }

    [Fact]
    public void A_square_and_a_transposed_size_get_their_own_time_ids()
    {
        var engine = models.Engine(Distilled);
        var reference = new ReferencePipeline(models.PathOf(Distilled));

        var tall = engine.Generate(Request() with { Width = Height, Height = Width });

        Assert.Equal(reference.Run(new ReferenceRun(Prompt, 11, Height, Width) { Guidance = 8.0 }), tall.Images[0].Rgb);
    }

    [Theory]
    [InlineData(ModelKind.LcmLora, ExportEra.Current)]
    [InlineData(ModelKind.LcmLora, ExportEra.Legacy)]
    [InlineData(ModelKind.Distilled, ExportEra.Current)]
    public void Image_to_image_runs_the_last_timesteps_of_the_full_schedule(ModelKind kind, ExportEra era)
    {
        var options = SdxlModels.Options(kind, era);
        var init = InitImages.At(Width, Height);
        double guidance = kind == ModelKind.Distilled ? 8.0 : 1.0;

        var result = models.Engine(options).Generate(Request(steps: 4) with { InitImage = init, Strength = 0.5 });

        var run = Run(guidance, kind == ModelKind.Distilled ? ReferenceGuidance.Embedded : ReferenceGuidance.ClassifierFree) with
        {
            Timesteps = [499, 259],
            Init = (init, options.VaeEncoder),
        };
        var reference = new ReferencePipeline(models.PathOf(options));
        Assert.Equal(reference.Run(run), result.Images[0].Rgb);
        Assert.NotEqual(reference.Run(run with { Timesteps = [759, 499] }), result.Images[0].Rgb);
    }

    [Fact]
    public void Image_to_image_with_less_than_one_step_is_invalid_strength()
    {
        var engine = models.Engine(Lora);

        var refused = Assert.Throws<InvalidRequestException>(() => engine.Validate(Request(steps: 4) with { InitImage = InitImages.At(Width, Height), Strength = 0.2 }));

        Assert.Equal("invalid_strength", refused.Code);
        Assert.Contains("less than one step", refused.Message);
    }

    [Fact]
    public void A_float16_vae_that_overflows_fails_with_vae_overflow_instead_of_a_black_image()
    {
        var engine = models.Engine(Lora with { Float16 = true, OverflowingVae = true });

        var failed = Assert.Throws<ModelOutputException>(() => engine.Generate(Request()));

        Assert.Equal("vae_overflow", failed.Code);
        Assert.Contains("sdxl-vae-fp16-fix", failed.Message);
    }

    [Fact]
    public void Tokenizer_2_pads_with_its_own_pad_token_and_reads_a_literal_exclamation_mark_as_it()
    {
        string path = models.PathOf(Distilled);
        var first = ClipTokenizer.FromFolder(Path.Combine(path, "tokenizer"));
        var second = ClipTokenizer.FromFolder(Path.Combine(path, "tokenizer_2"));

        int[] one = first.Encode("cat!").Ids, two = second.Encode("cat!").Ids;

        Assert.Equal(0, second.PadId);
        Assert.Equal(first.Encode("cat").Ids[1], two[1]);
        Assert.Equal([0, first.Encode("").Ids[1]], two[2..4]);
        Assert.All(two[4..], id => Assert.Equal(0, id));
        Assert.NotEqual(0, one[2]);
        Assert.All(one[4..], id => Assert.Equal(first.PadId, id));
    }

    [Fact]
    public void An_sd15_lora_on_an_sdxl_model_fails_with_lora_mismatch_and_merges_nothing()
    {
        string lora = Path.Combine(models.Root, $"sd15-{Guid.NewGuid():N}.safetensors");
        TestLoraMaker.Write(lora, new TestLoraOptions());
        string merged = Path.Combine(models.Root, $"merged-{Guid.NewGuid():N}");

        var error = Assert.Throws<Lcm.Engine.Loaders.Lora.LoraException>(() =>
            LcmEngine.Load(models.PathOf(Lora), TestModels.Cpu with { MergedModelDirectory = merged }, loras: [new Lcm.Engine.Loaders.Lora.LoraFile("style", lora, 1.0)]));

        Assert.Equal("lora_mismatch", error.Code);
        Assert.Contains("nothing was merged", error.Message);
        Assert.False(Directory.Exists(merged) && Directory.EnumerateFileSystemEntries(merged).Any());
    }

    [Fact]
    public void A_folder_with_half_of_the_sdxl_layout_is_refused_naming_what_is_missing()
    {
        string copy = TestModels.CopyFolder(models.PathOf(Distilled), Path.Combine(models.Root, $"half-{Guid.NewGuid():N}"));
        File.Delete(Path.Combine(copy, "text_encoder_2", "model.onnx"));

        var refused = Assert.Throws<Lcm.Engine.Loaders.ModelFormatException>(() => LcmEngine.Load(copy, TestModels.Cpu));

        Assert.Contains("tokenizer_2/ but no text_encoder_2/model.onnx", refused.Message);
    }
}
