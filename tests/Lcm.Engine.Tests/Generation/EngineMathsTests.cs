using Lcm.Engine.Pipelines;
using Lcm.Tests.Support;

namespace Lcm.Tests.Generation;

/// <summary>
/// A one-step run recomputed by hand from the model's own graphs, so wiring mistakes (wrong
/// timestep, wrong scaling factor, unscaled latents, swapped sizes, wrong pixel conversion) show
/// as pixel differences.
/// </summary>
public sealed class EngineMathsTests(TestModels models) : IClassFixture<TestModels>
{
    private const int Width = 128, Height = 96;

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
        int timestep = 999, double scalingFactor = 0.18215) =>
        new ReferencePipeline(modelPath).Run(new ReferenceRun(prompt, seed, Width, Height)
        {
            Guidance = guidance,
            Timesteps = [timestep],
            ScalingFactor = scalingFactor,
        });
}
