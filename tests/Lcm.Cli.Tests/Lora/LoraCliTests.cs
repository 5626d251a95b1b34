using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Pipelines;
using Lcm.Tests.Cli;
using Lcm.Tests.Generation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests.Lora;

/// <summary><c>lcm make-model --sd15-style</c> (and <c>--family sdxl</c>), <c>make-lora</c>, <c>info --lora</c> and <c>generate --lora</c> through the real entry point.</summary>
public sealed class LoraCliTests(CliFolder folder) : IClassFixture<CliFolder>
{
    private (string Model, string Loras) MakeModelAndLoras()
    {
        string model = folder.NewDirectory("sd15"), loras = folder.NewDirectory("loras");
        LcmRun.AssertExit(0, folder.Lcm("make-model", "--sd15-style", "--output", model));
        LcmRun.AssertExit(0, folder.Lcm("make-lora", "--output", Path.Combine(loras, "style.safetensors"), "--seed", "3"));
        LcmRun.AssertExit(0, folder.Lcm("make-lora", "--output", Path.Combine(loras, "peft-style.safetensors"), "--format", "peft", "--unet-only", "--rank", "2"));
        return (model, loras);
    }

    [Fact]
    public void Info_reports_the_model_kind_its_guidance_and_how_many_lora_keys_matched()
    {
        var (model, loras) = MakeModelAndLoras();

        var run = folder.Lcm(new Dictionary<string, string> { ["LCM_LORA_PATH"] = loras },
            "info", "--model", model, "--lora", "style", "--lora", "peft-style:0.5");

        LcmRun.AssertExit(0, run);
        Assert.Contains("kind: LCM-LoRA (UNet without timestep_cond; classifier-free guidance above 1)", run.Stdout);
        Assert.Contains("unet time_cond_proj_dim=none", run.Stdout);
        Assert.Contains("lora style: 33 keys matched: 9 UNet and 2 text encoder modules", run.Stdout);
        Assert.Contains("lora peft-style: 18 keys matched: 9 UNet and 0 text encoder modules", run.Stdout);
        Assert.Contains("guidance=1 (0..3)", run.Stdout);
    }

    [Fact]
    public void Info_on_an_sdxl_model_counts_both_text_encoders_and_refuses_an_sd15_lora_and_ssd_1b()
    {
        string model = folder.NewDirectory("sdxl"), ssd1b = folder.NewDirectory("ssd1b"), loras = folder.NewDirectory("loras");
        LcmRun.AssertExit(0, folder.Lcm("make-model", "--family", "sdxl", "--kind", "lcm-lora", "--output", model));
        LcmRun.AssertExit(0, folder.Lcm("make-model", "--family", "sdxl", "--kind", "lcm-lora", "--ssd1b-style", "--output", ssd1b));
        LcmRun.AssertExit(0, folder.Lcm("make-lora", "--family", "sdxl", "--output", Path.Combine(loras, "style.safetensors")));
        LcmRun.AssertExit(0, folder.Lcm("make-lora", "--family", "sdxl", "--format", "kohya-sgm", "--unet-only", "--output", Path.Combine(loras, "sgm.safetensors")));
        LcmRun.AssertExit(0, folder.Lcm("make-lora", "--output", Path.Combine(loras, "sd15.safetensors")));
        var environment = new Dictionary<string, string> { ["LCM_LORA_PATH"] = loras };

        var run = folder.Lcm(environment, "info", "--model", model, "--lora", "style", "--lora", "sgm");
        var sd15 = folder.Lcm(environment, "info", "--model", model, "--lora", "sd15");
        var onSsd1b = folder.Lcm(environment, "info", "--model", ssd1b, "--lora", "style");

        LcmRun.AssertExit(0, run);
        Assert.Contains("lora style: 51 keys matched: 11 UNet, 2 text encoder and 4 text encoder 2 modules", run.Stdout);
        Assert.Contains("lora sgm: 33 keys matched: 11 UNet, 0 text encoder and 0 text encoder 2 modules", run.Stdout);
        LcmRun.AssertExit(1, sd15);
        Assert.Contains("lora_mismatch:", sd15.Stderr);
        LcmRun.AssertExit(1, onSsd1b);
        Assert.Contains("lora_mismatch:", onSsd1b.Stderr);
        Assert.Contains("down_blocks_1_attentions_0_transformer_blocks_1_ff_net_2", onSsd1b.Stderr);
    }

    [Fact]
    public void Info_refuses_unknown_names_and_loras_that_do_not_fit_the_model()
    {
        var (_, loras) = MakeModelAndLoras();
        var environment = new Dictionary<string, string> { ["LCM_LORA_PATH"] = loras };

        var unknown = folder.Lcm(environment, "info", "--lora", "nope");
        var distilled = folder.Lcm(environment, "info", "--lora", "style"); // the built-in distilled test model

        LcmRun.AssertExit(2, unknown);
        Assert.Contains("unknown_lora: lora 'nope' is unknown", unknown.Stderr);
        Assert.Contains("available: 'peft-style', 'style'", unknown.Stderr);
        LcmRun.AssertExit(1, distilled);
        Assert.Contains("lora_mismatch:", distilled.Stderr);
        Assert.Contains("11 of 11 modules do not match", distilled.Stderr);
    }

    [Fact]
    public void Generate_with_a_lora_by_name_or_path_writes_the_merged_models_image()
    {
        var (model, loras) = MakeModelAndLoras();
        string output = folder.NewDirectory("out");
        string[] request = ["--model", model, "--width", "96", "--height", "64", "--seed", "4", "--steps", "2", "--guidance", "2", "--negative-prompt", "blurry"];

        var byName = folder.Lcm(new Dictionary<string, string> { ["LCM_LORA_PATH"] = loras },
            ["generate", "--prompt", "a photo of a cat", "--lora", "style:0.8", "--output", Path.Combine(output, "name.png"), .. request]);
        var byPath = folder.Lcm(["generate", "--prompt", "a photo of a cat", "--lora", $"{Path.Combine(loras, "style.safetensors")}:0.8",
            "--output", Path.Combine(output, "path.png"), .. request]);

        LcmRun.AssertExit(0, byName);
        LcmRun.AssertExit(0, byPath);
        Assert.DoesNotContain("warning", byName.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(output, "name.png")), File.ReadAllBytes(Path.Combine(output, "path.png")));
        var lora = new LoraFile("style", Path.Combine(loras, "style.safetensors"), 0.8);
        using var engine = LcmEngine.Load(model, TestModels.Cpu with { MergedModelDirectory = folder.NewDirectory("merged") }, loras: [lora]);
        var expected = engine.Generate(new GenerationRequest
        {
            Prompt = "a photo of a cat", Width = 96, Height = 64, Seed = 4, Steps = 2, GuidanceScale = 2, NegativePrompt = "blurry", Loras = [lora.Reference],
        }).Images[0];
        using var written = Image.Load<Rgb24>(Path.Combine(output, "name.png"));
        var pixels = new byte[96 * 64 * 3];
        written.CopyPixelDataTo(pixels);
        // The CLI loads prepared graphs, which may round differently in the last bit.
        Images.AssertSameImage(expected, new GeneratedImage(pixels, 96, 64, 4));
    }

    [Fact]
    public void Guidance_above_the_lcm_lora_limit_is_refused()
    {
        var (model, _) = MakeModelAndLoras();

        var run = folder.Lcm("generate", "--model", model, "--prompt", "a cat", "--guidance", "8.5", "--output", Path.Combine(folder.NewDirectory("out"), "x.png"));

        LcmRun.AssertExit(2, run);
        Assert.Contains("invalid_guidance_scale: guidanceScale must be in 0..3 for this model, found 8.5", run.Stderr);
    }
}
