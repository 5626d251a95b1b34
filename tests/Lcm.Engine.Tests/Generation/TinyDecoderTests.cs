using System.Text.Json.Nodes;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Loaders;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Tests.Generation;

/// <summary>
/// The tiny autoencoder (<c>"decoder": "tiny"</c>, AutoencoderTiny maths) and the step previews, on
/// the self-made folders' vae_decoder_tiny/, checked against sessions the tests open themselves.
/// </summary>
public sealed class TinyDecoderTests(TestModels models) : IClassFixture<TestModels>
{
    private static GenerationRequest Request(VaeDecoderKind decoder, IProgress<LatentPreview>? preview = null) =>
        new() { Prompt = "a lighthouse at dusk", Width = 64, Height = 80, Steps = 3, Seed = 11, Decoder = decoder, Preview = preview };

    [Fact]
    public void Each_decoder_decodes_the_final_denoised_latents_with_its_own_scaling_factor()
    {
        var previews = new List<LatentPreview>();
        var engine = models.Engine(float16: false);
        var tiny = engine.Generate(Request(VaeDecoderKind.Tiny, new SynchronousProgress<LatentPreview>(previews.Add))).Images[0];
        var full = engine.Generate(Request(VaeDecoderKind.Full)).Images[0];

        float[] denoised = previews[^1].Latents.ToArray();
        Assert.Equal(tiny.Rgb, DecodeWithOwnSession(Path.Combine(models.Fp32Path, "vae_decoder_tiny"), denoised, 1.0));
        Assert.Equal(full.Rgb, DecodeWithOwnSession(Path.Combine(models.Fp32Path, "vae_decoder"), denoised, ModelFolder.DefaultVaeScalingFactor));
        Assert.NotEqual(full.Rgb, tiny.Rgb);
    }

    [Fact]
    public void A_float16_tiny_decoder_gives_a_picture()
    {
        var image = models.Engine(float16: true).Generate(Request(VaeDecoderKind.Tiny)).Images[0];
        Assert.Equal(64 * 80 * 3, image.Rgb.Length);
        Assert.True(image.Rgb.Distinct().Count() > 10, "the tiny decoder's picture should vary");
    }

    [Fact]
    public void Previews_come_after_every_step_for_the_first_image_of_the_request()
    {
        var previews = new List<LatentPreview>();
        models.Engine(float16: false).Generate(Request(VaeDecoderKind.Full, new SynchronousProgress<LatentPreview>(previews.Add)) with { Count = 2 });
        Assert.Equal([1, 2, 3], previews.Select(p => p.Step));
        Assert.All(previews, p => Assert.Equal((3, 0, 4 * 10 * 8), (p.Steps, p.Image, p.Latents.Length)));
        // The tiny autoencoder draws them where the folder has one: at the image's size.
        var picture = previews[^1].Render();
        Assert.Equal((64, 80), (picture.Width, picture.Height));
    }

    [Fact]
    public void Without_a_tiny_autoencoder_previews_use_the_latent_to_rgb_factors_and_tiny_is_refused()
    {
        string folder = models.Copy();
        Directory.Delete(Path.Combine(folder, "vae_decoder_tiny"), recursive: true);
        using var engine = LcmEngine.Load(folder, TestModels.Cpu);
        Assert.False(engine.Capabilities.SupportsTinyDecoder);

        var error = Assert.Throws<InvalidRequestException>(() => engine.Generate(Request(VaeDecoderKind.Tiny)));
        Assert.Equal(JobErrorCodes.TinyDecoderUnavailable, error.Code);
        Assert.Contains("LCM_TINY_VAE_PATH", error.Message);

        var previews = new List<LatentPreview>();
        engine.Generate(Request(VaeDecoderKind.Full, new SynchronousProgress<LatentPreview>(previews.Add)));
        var picture = previews[^1].Render();
        Assert.Equal((8, 10), (picture.Width, picture.Height));
        float[] latents = previews[^1].Latents.ToArray();
        // Pixel (x 3, y 2) by hand with ComfyUI's SD 1.5 factors (no bias).
        float[][] factors = [[0.3512f, 0.2297f, 0.3227f], [0.3250f, 0.4974f, 0.2350f], [-0.2829f, 0.1762f, 0.2721f], [-0.2120f, -0.2616f, -0.7177f]];
        int pixel = 2 * 8 + 3;
        for (int c = 0; c < 3; c++)
        {
            float value = Enumerable.Range(0, 4).Sum(k => latents[k * 80 + pixel] * factors[k][c]);
            Assert.Equal(ToByte(value), picture.Rgb[3 * pixel + c]);
        }
    }

    [Fact]
    public void Sdxl_latent_to_rgb_adds_its_bias()
    {
        var rgb = LatentRgb.ToRgb(new float[4], new LatentShape(1, 4, 1, 1), ModelFamily.StableDiffusionXL);
        Assert.Equal([ToByte(0.1084f), ToByte(-0.0175f), ToByte(-0.0011f)], rgb);
        Assert.Equal([ToByte(0.3512f), ToByte(0.2297f), ToByte(0.3227f)], LatentRgb.ToRgb([1, 0, 0, 0], new LatentShape(1, 4, 1, 1), ModelFamily.StableDiffusion));
    }

    [Fact]
    public void A_tiny_autoencoder_folder_from_the_settings_serves_a_model_folder_without_one()
    {
        string folder = models.Copy();
        Directory.Delete(Path.Combine(folder, "vae_decoder_tiny"), recursive: true);
        // A TAESD export in optimum's layout: the decoder under vae_decoder/.
        string taesd = models.NewDirectory("taesd");
        TestModels.CopyFolder(Path.Combine(models.Fp32Path, "vae_decoder_tiny"), Path.Combine(taesd, "vae_decoder"));
        using var engine = LcmEngine.Load(folder, TestModels.Cpu with { TinyVaePath = taesd });
        Assert.Equal(models.Engine(float16: false).Generate(Request(VaeDecoderKind.Tiny)).Images[0].Rgb, engine.Generate(Request(VaeDecoderKind.Tiny)).Images[0].Rgb);

        var missing = Assert.Throws<ModelFormatException>(() => LcmEngine.Load(folder, TestModels.Cpu with { PreviewVaePath = models.NewDirectory("empty") }));
        Assert.Contains("neither model.onnx nor vae_decoder/model.onnx", missing.Message);
    }

    [Fact]
    public void With_the_tiny_decoder_init_images_are_encoded_by_the_tiny_encoder_to_unet_latents_as_they_are()
    {
        var request = Request(VaeDecoderKind.Tiny) with { Steps = 2, Strength = 0.6, InitImage = InitImages.At(64, 80) };
        var tiny = models.Engine(float16: false).Generate(request).Images[0];
        var full = models.Engine(float16: false).Generate(request with { Decoder = VaeDecoderKind.Full }).Images[0];

        // The same run where the tiny encoder's graph is the folder's only encoder, at scaling factor 1 (what vae_encoder gets from vae_decoder's config).
        string asFull = models.Copy();
        File.Copy(Path.Combine(asFull, "vae_encoder_tiny", "model.onnx"), Path.Combine(asFull, "vae_encoder", "model.onnx"), overwrite: true);
        Directory.Delete(Path.Combine(asFull, "vae_encoder_tiny"), recursive: true);
        string config = Path.Combine(asFull, "vae_decoder", "config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json["scaling_factor"] = 1.0;
        File.WriteAllText(config, json.ToJsonString());
        using (var engine = LcmEngine.Load(asFull, TestModels.Cpu))
            Assert.Equal(tiny.Rgb, engine.Generate(request).Images[0].Rgb);

        // Without a tiny encoder, tiny decodes the full encoder's latents; the full decoder never uses the tiny encoder.
        string noTinyEncoder = models.Copy();
        Directory.Delete(Path.Combine(noTinyEncoder, "vae_encoder_tiny"), recursive: true);
        using (var engine = LcmEngine.Load(noTinyEncoder, TestModels.Cpu))
        {
            Assert.NotEqual(tiny.Rgb, engine.Generate(request).Images[0].Rgb);
            Assert.Equal(full.Rgb, engine.Generate(request with { Decoder = VaeDecoderKind.Full }).Images[0].Rgb);
        }
    }

    [Fact]
    public void A_tiny_autoencoder_folder_from_the_settings_brings_its_encoder_beside_the_decoder()
    {
        var request = Request(VaeDecoderKind.Tiny) with { Steps = 2, Strength = 0.6, InitImage = InitImages.At(64, 80) };
        string folder = models.Copy();
        string taesd = models.NewDirectory("taesd-with-encoder");
        TestModels.CopyFolder(Path.Combine(folder, "vae_decoder_tiny"), Path.Combine(taesd, "vae_decoder"));
        TestModels.CopyFolder(Path.Combine(folder, "vae_encoder_tiny"), Path.Combine(taesd, "encoder"));
        Directory.Delete(Path.Combine(folder, "vae_decoder_tiny"), recursive: true);
        Directory.Delete(Path.Combine(folder, "vae_encoder_tiny"), recursive: true);
        using var engine = LcmEngine.Load(folder, TestModels.Cpu with { TinyVaePath = taesd });
        Assert.Equal(models.Engine(float16: false).Generate(request).Images[0].Rgb, engine.Generate(request).Images[0].Rgb);
    }

    private static byte ToByte(float value) => (byte)MathF.Round(Math.Clamp(value / 2f + 0.5f, 0f, 1f) * 255f, MidpointRounding.ToEven);

    /// <summary>The decoder graph in a fresh session on latents divided by the scaling factor, to bytes as diffusers rounds them.</summary>
    private static byte[] DecodeWithOwnSession(string directory, float[] denoised, double scalingFactor)
    {
        using var session = new InferenceSession(Path.Combine(directory, "model.onnx"));
        float[] latents = Array.ConvertAll(denoised, v => (float)(v / scalingFactor));
        using var input = OrtValue.CreateTensorValueFromMemory(latents, [1, 4, 10, 8]);
        using var output = session.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["latent_sample"] = input }, ["sample"]);
        var planes = output[0].GetTensorDataAsSpan<float>();
        int pixels = 80 * 64;
        var rgb = new byte[3 * pixels];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < pixels; i++) rgb[3 * i + c] = ToByte(planes[c * pixels + i]);
        return rgb;
    }
}
