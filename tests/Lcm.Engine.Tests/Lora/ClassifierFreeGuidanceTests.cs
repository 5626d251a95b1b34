using Lcm.Engine.Loaders;
using Lcm.Engine.Noise;
using Lcm.Engine.Pipelines;
using Lcm.Engine.Schedulers;
using Lcm.Engine.Text;
using Lcm.Tests.Generation;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Tests.Lora;

/// <summary>
/// Guidance on a three-input UNet, as diffusers runs LCM-LoRA: above 1, one UNet batch of
/// [unconditional (the negative prompt), conditional] and eps = eps_u + g * (eps_c - eps_u); at 1 or
/// below, the conditional pass alone. Checked against a one-step run recomputed by hand.
/// </summary>
public sealed class ClassifierFreeGuidanceTests(LoraFixture fixture) : IClassFixture<LoraFixture>
{
    private const int Width = 96, Height = 64, LatentWidth = Width / 8, LatentHeight = Height / 8;
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
    /// UNet at t = 999 on [unconditional, conditional] (or the conditional alone), the guided noise
    /// prediction, the last scheduler step and the VAE decoder.
    /// </summary>
    private static byte[] HandComputed(string modelPath, double guidance, string? negative)
    {
        var model = ModelFolder.Open(modelPath);
        var tokenizer = ClipTokenizer.FromFolder(model.TokenizerDirectory);
        using var runOptions = new RunOptions();
        float[] Encode(string text)
        {
            using var session = new InferenceSession(model.TextEncoderPath);
            using var input = OrtValue.CreateTensorValueFromMemory(tokenizer.Encode(text).Ids, [1, 77]);
            using var output = session.Run(runOptions, ["input_ids"], [input], ["last_hidden_state"]);
            return output[0].GetTensorDataAsSpan<float>().ToArray();
        }
        bool guided = negative is not null;
        float[] states = guided ? [.. Encode(negative!), .. Encode(Prompt)] : Encode(Prompt);
        int batch = guided ? 2 : 1, size = 4 * LatentHeight * LatentWidth;

        float[] latents = new float[size];
        new GaussianNoise((ulong)Seed).Fill(latents);
        float[] output;
        using (var session = new InferenceSession(model.UnetPath))
        using (var sample = OrtValue.CreateTensorValueFromMemory(guided ? [.. latents, .. latents] : latents.ToArray(), [batch, 4, LatentHeight, LatentWidth]))
        using (var time = OrtValue.CreateTensorValueFromMemory(new long[] { 999 }, [1]))
        using (var hidden = OrtValue.CreateTensorValueFromMemory(states, [batch, 77, 32]))
        using (var result = session.Run(runOptions, ["sample", "timestep", "encoder_hidden_states"], [sample, time, hidden], ["out_sample"]))
            output = result[0].GetTensorDataAsSpan<float>().ToArray();
        float g = (float)guidance;
        float[] eps = guided ? Enumerable.Range(0, size).Select(i => output[i] + g * (output[size + i] - output[i])).ToArray() : output;

        float[] denoised = new float[size];
        new LcmScheduler(model.Scheduler).Step(eps, 999, null, latents, ReadOnlySpan<float>.Empty, denoised);
        float[] planes;
        using (var session = new InferenceSession(model.VaeDecoderPath))
        using (var input = OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(denoised, v => (float)(v / model.VaeScalingFactor)), [1, 4, LatentHeight, LatentWidth]))
        using (var result = session.Run(runOptions, ["latent_sample"], [input], ["sample"]))
            planes = result[0].GetTensorDataAsSpan<float>().ToArray();
        int pixels = Width * Height;
        var rgb = new byte[3 * pixels];
        for (int c = 0; c < 3; c++)
        for (int i = 0; i < pixels; i++)
            rgb[3 * i + c] = (byte)MathF.Round(Math.Clamp(planes[c * pixels + i] / 2f + 0.5f, 0f, 1f) * 255f);
        return rgb;
    }
}
