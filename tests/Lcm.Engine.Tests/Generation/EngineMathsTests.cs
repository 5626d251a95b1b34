using Lcm.Engine.Loaders;
using Lcm.Engine.Noise;
using Lcm.Engine.Pipelines;
using Lcm.Engine.Schedulers;
using Lcm.Engine.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Tests.Generation;

/// <summary>
/// A one-step run recomputed by hand from the model's own graphs, so wiring mistakes (wrong
/// timestep, wrong scaling factor, unscaled latents, swapped sizes, wrong pixel conversion) show
/// as pixel differences.
/// </summary>
public sealed class EngineMathsTests(TestModels models) : IClassFixture<TestModels>
{
    private const int Width = 128, Height = 96, LatentWidth = Width / 8, LatentHeight = Height / 8;

    [Theory]
    [InlineData(false, 8.5)]
    [InlineData(false, 2.0)]
    [InlineData(true, 8.5)]
    public void One_step_run_equals_the_hand_computed_pipeline(bool float16, double guidance)
    {
        const string prompt = "a photo of a cat";
        const long seed = 31337;
        var request = new GenerationRequest { Prompt = prompt, Width = Width, Height = Height, Steps = 1, GuidanceScale = guidance, Seed = seed };
        byte[] actual = models.Engine(float16).Generate(request).Images[0].Rgb;

        byte[] expected = HandComputed(models.PathOf(float16), prompt, seed, guidance, float16);

        // Exactly: the same graphs on the same CPU provider, with the same inputs at batch size 1,
        // give the same floats (so it is on ONNX Runtime 1.31). Should a future kernel differ
        // between the two sessions, it would show as one level in a few pixels; wiring mistakes
        // move most pixels by far more.
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_wrong_timestep_or_scaling_would_change_the_pixels()
    {
        // Guards the test above: its expectation is sensitive to what it claims to check.
        string path = models.Fp32Path;
        byte[] right = HandComputed(path, "a photo of a cat", 5, 8.5, false);
        Assert.NotEqual(right, HandComputed(path, "a photo of a cat", 5, 8.5, false, timestep: 979));
        Assert.NotEqual(right, HandComputed(path, "a photo of a cat", 5, 8.5, false, scalingFactor: 1.0));
    }

    private static byte[] HandComputed(string modelPath, string prompt, long seed, double guidance, bool float16,
        int timestep = 999, double scalingFactor = 0.18215)
    {
        var model = ModelFolder.Open(modelPath);
        using var runOptions = new RunOptions();

        // Text encoder: int32 ids [1, 77] to last_hidden_state [1, 77, 32].
        int[] ids = ClipTokenizer.FromFolder(model.TokenizerDirectory).Encode(prompt).Ids;
        float[] hidden;
        using (var session = new InferenceSession(model.TextEncoderPath))
        using (var input = OrtValue.CreateTensorValueFromMemory(ids, [1, 77]))
        using (var output = session.Run(runOptions, ["input_ids"], [input], ["last_hidden_state"]))
            hidden = Floats(output[0]);

        // Initial latents: the seeded noise, unscaled (LCM's init_noise_sigma is 1).
        float[] latents = new float[4 * LatentHeight * LatentWidth];
        new GaussianNoise((ulong)seed).Fill(latents);

        // UNet at the single LCM timestep, with the guidance embedding as timestep_cond.
        float[] modelOutput;
        using (var session = new InferenceSession(model.UnetPath))
        using (var sample = Tensor(latents, [1, 4, LatentHeight, LatentWidth], float16))
        // The fp32 export takes int64 [1]; the fp16 one a float32 scalar.
        using (var time = float16 ? OrtValue.CreateTensorValueFromMemory(new float[] { timestep }, [])
                                  : OrtValue.CreateTensorValueFromMemory(new long[] { timestep }, [1]))
        using (var states = Tensor(hidden, [1, 77, 32], float16))
        using (var cond = Tensor(GuidanceEmbedding.Compute(guidance, 256), [1, 256], float16))
        using (var output = session.Run(runOptions, ["sample", "timestep", "encoder_hidden_states", "timestep_cond"],
                   [sample, time, states, cond], ["out_sample"]))
            modelOutput = Floats(output[0]);

        // The last (and only) scheduler step: the denoised estimate, no renoising.
        var scheduler = new LcmScheduler(model.Scheduler);
        float[] denoised = new float[latents.Length];
        scheduler.Step(modelOutput, timestep, null, latents.ToArray(), ReadOnlySpan<float>.Empty, denoised);

        // VAE decoder on denoised / scaling factor, then [-1, 1] to bytes.
        float[] planes;
        float[] scaled = Array.ConvertAll(denoised, v => (float)(v / scalingFactor));
        using (var session = new InferenceSession(model.VaeDecoderPath))
        using (var input = Tensor(scaled, [1, 4, LatentHeight, LatentWidth], float16))
        using (var output = session.Run(runOptions, ["latent_sample"], [input], ["sample"]))
        {
            Assert.Equal([1L, 3, Height, Width], output[0].GetTensorTypeAndShape().Shape);
            planes = Floats(output[0]);
        }

        int pixels = Width * Height;
        var rgb = new byte[3 * pixels];
        for (int c = 0; c < 3; c++)
        for (int i = 0; i < pixels; i++)
        {
            float x = planes[c * pixels + i];
            rgb[3 * i + c] = (byte)MathF.Round(Math.Clamp(x / 2f + 0.5f, 0f, 1f) * 255f);
        }
        return rgb;
    }

    private static OrtValue Tensor(float[] data, long[] shape, bool float16) => float16
        ? OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(data, v => (Float16)v), shape)
        : OrtValue.CreateTensorValueFromMemory(data, shape);

    private static float[] Floats(OrtValue value) =>
        value.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16
            ? Array.ConvertAll(value.GetTensorDataAsSpan<Float16>().ToArray(), v => v.ToFloat())
            : value.GetTensorDataAsSpan<float>().ToArray();
}
