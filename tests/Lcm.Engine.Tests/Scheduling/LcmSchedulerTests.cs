using System.Text.Json;
using Lcm.Engine.Schedulers;

namespace Lcm.Tests.Scheduling;

public class LcmSchedulerTests
{
    private static JsonElement Vectors() =>
        JsonDocument.Parse(File.ReadAllText(SharedData.PathOf("lcm-reference/scheduler_vectors.json"))).RootElement;

    private static LcmScheduler ReferenceScheduler(JsonElement vectors) =>
        new(SchedulerConfig.Parse(vectors.GetProperty("config").GetRawText()));

    private static void AssertClose(double expected, double actual, double relative = 1e-5, double absolute = 1e-6) =>
        Assert.True(Math.Abs(expected - actual) <= absolute + relative * Math.Abs(expected),
            $"expected {expected}, got {actual}");

    [Fact]
    public void Timesteps_match_diffusers_for_1_to_8_steps()
    {
        var vectors = Vectors();
        var scheduler = ReferenceScheduler(vectors);
        foreach (var entry in vectors.GetProperty("timesteps").EnumerateObject())
        {
            int[] expected = entry.Value.EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expected, scheduler.Timesteps(int.Parse(entry.Name)));
        }
    }

    [Fact]
    public void Timesteps_with_strength_match_diffusers()
    {
        var vectors = Vectors();
        var scheduler = ReferenceScheduler(vectors);
        foreach (var entry in vectors.GetProperty("timesteps_strength").EnumerateArray())
        {
            int[] expected = entry.GetProperty("timesteps").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expected, scheduler.Timesteps(entry.GetProperty("steps").GetInt32(), entry.GetProperty("strength").GetDouble()));
        }
    }

    [Fact]
    public void Alphas_cumprod_and_scalings_match_diffusers()
    {
        var vectors = Vectors();
        var scheduler = ReferenceScheduler(vectors);
        foreach (var entry in vectors.GetProperty("alphas_cumprod").EnumerateObject())
            AssertClose(entry.Value.GetDouble(), scheduler.AlphaCumprod(int.Parse(entry.Name)));
        foreach (var entry in vectors.GetProperty("scalings").EnumerateObject())
        {
            var (cSkip, cOut) = scheduler.Scalings(int.Parse(entry.Name));
            AssertClose(entry.Value.GetProperty("c_skip").GetDouble(), cSkip, absolute: 1e-12);
            AssertClose(entry.Value.GetProperty("c_out").GetDouble(), cOut, absolute: 1e-12);
        }
    }

    [Fact]
    public void Guidance_embedding_matches_diffusers()
    {
        var reference = Vectors().GetProperty("guidance_embedding");
        float[] embedding = GuidanceEmbedding.Compute(reference.GetProperty("guidance_scale").GetDouble(), reference.GetProperty("dim").GetInt32());
        double w = reference.GetProperty("w").GetDouble();
        int half = embedding.Length / 2;
        foreach (var entry in reference.GetProperty("values").EnumerateObject())
        {
            int index = int.Parse(entry.Name);
            // sin/cos of float32 arguments near 7500: one float32 ulp of the argument (numpy's and
            // .NET's float32 exp may round differently) moves the value by up to argument * 2^-23.
            double argument = 1000 * w * Math.Exp(-(index % half) * Math.Log(10000) / (half - 1));
            AssertClose(entry.Value.GetDouble(), embedding[index], relative: 0, absolute: 1e-5 + argument * Math.Pow(2, -23));
        }
    }

    [Fact]
    public void Steps_match_diffusers_denoised_and_prev_sample()
    {
        var vectors = Vectors();
        var scheduler = ReferenceScheduler(vectors);
        var example = vectors.GetProperty("step_example");
        float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => v.GetSingle()).ToArray();
        float[] modelOutput = Floats(example.GetProperty("model_output")), noise = Floats(example.GetProperty("noise"));
        var steps = example.GetProperty("steps").EnumerateArray().ToArray();
        Assert.Equal(4, steps.Length);
        foreach (var step in steps)
        {
            float[] sample = Floats(example.GetProperty("sample"));
            var denoised = new float[sample.Length];
            int t = step.GetProperty("timestep").GetInt32(), next = step.GetProperty("prev_timestep").GetInt32();
            bool last = step.GetProperty("step_index").GetInt32() == steps.Length - 1;
            scheduler.Step(modelOutput, t, last ? null : next, sample, noise, denoised);
            float[] expectedDenoised = Floats(step.GetProperty("denoised"));
            float[] expectedPrev = Floats(step.GetProperty("prev_sample"));
            for (int i = 0; i < sample.Length; i++)
            {
                AssertClose(expectedDenoised[i], denoised[i]);
                AssertClose(expectedPrev[i], last ? denoised[i] : sample[i]);
            }
        }
    }

    [Fact]
    public void V_prediction_recovers_the_clean_sample()
    {
        var scheduler = new LcmScheduler(new SchedulerConfig { PredictionType = PredictionType.VPrediction });
        int t = 499;
        double a = scheduler.AlphaCumprod(t);
        float[] x0 = [0.5f, -1f], eps = [1f, 0.25f];
        // Build x_t and v from a known x0 and noise; the step must give back c_out * x0 + c_skip * x_t.
        float[] sample = x0.Select((v, i) => (float)(Math.Sqrt(a) * v + Math.Sqrt(1 - a) * eps[i])).ToArray();
        float[] velocity = x0.Select((v, i) => (float)(Math.Sqrt(a) * eps[i] - Math.Sqrt(1 - a) * v)).ToArray();
        var denoised = new float[2];
        scheduler.Step(velocity, t, null, sample.ToArray(), new float[2], denoised);
        var (cSkip, cOut) = scheduler.Scalings(t);
        for (int i = 0; i < 2; i++) AssertClose(cOut * x0[i] + cSkip * sample[i], denoised[i]);
    }

    [Fact]
    public void Too_few_origin_steps_for_strength_is_refused_like_diffusers()
    {
        var scheduler = new LcmScheduler(new SchedulerConfig());
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.Timesteps(4, 0.05));
        Assert.Contains("smaller than steps", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.Timesteps(51));
    }

    [Fact]
    public void Unsupported_config_is_refused_with_the_key_named()
    {
        var error = Assert.Throws<ArgumentException>(() => new LcmScheduler(SchedulerConfig.Parse("""{ "beta_schedule": "squaredcos_cap_v2" }""")));
        Assert.Contains("beta_schedule", error.Message);
    }
}
