using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Tests.Sdxl;

namespace Lcm.Tests.Generation;

/// <summary>Prompt embeddings and the UNet's bound inputs kept between runs: what is encoded or bound, what is reused, and that reuse changes no pixel.</summary>
public sealed class PromptReuseTests(TestModels models) : IClassFixture<TestModels>
{
    private static GenerationRequest Request(string prompt, long seed = 3) => new() { Prompt = prompt, Steps = 2, Seed = seed, Width = 64, Height = 64 };

    [Fact]
    public void A_prompt_run_again_is_not_encoded_or_bound_again_and_gives_the_bytes_of_a_fresh_engine()
    {
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu);
        var first = engine.Generate(Request("a red boat"));
        var again = engine.Generate(Request("a red boat", seed: 4));
        Assert.Equal((1, 0), (first.Timings.PromptsEncoded, first.Timings.PromptsReused));
        Assert.Equal((0, 1), (again.Timings.PromptsEncoded, again.Timings.PromptsReused));
        // Same shape and conditioning: the UNet's inputs bound for the first run serve the second.
        Assert.Equal((1, 0), (first.Timings.UnetBindings, first.Timings.UnetBindingsReused));
        Assert.Equal((0, 1), (again.Timings.UnetBindings, again.Timings.UnetBindingsReused));

        using var fresh = LcmEngine.Load(models.Fp32Path, TestModels.Cpu);
        var expected = fresh.Generate(Request("a red boat", seed: 4));
        Assert.Equal(1, expected.Timings.PromptsEncoded);
        Assert.Equal(expected.Images[0].Rgb, again.Images[0].Rgb);
    }

    [Fact]
    public void Another_guidance_scale_or_size_binds_the_unet_inputs_anew_and_the_classifier_free_batch_is_kept_too()
    {
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu);
        (int, int) Bindings(GenerationRequest request)
        {
            var timings = engine.Generate(request).Timings;
            return (timings.UnetBindings, timings.UnetBindingsReused);
        }
        Assert.Equal((1, 0), Bindings(Request("a red boat")));
        Assert.Equal((1, 0), Bindings(Request("a red boat") with { GuidanceScale = 3 }));
        Assert.Equal((1, 0), Bindings(Request("a red boat") with { GuidanceScale = 3, Width = 72 }));
        Assert.Equal((0, 1), Bindings(Request("a red boat", seed: 9) with { GuidanceScale = 3, Width = 72 }));

        using var sdxl = new SdxlModels();
        var lora = sdxl.Engine(SdxlModels.Options(ModelKind.LcmLora));
        var request = Request("a red boat") with { GuidanceScale = 2, NegativePrompt = "blurry" };
        lora.Generate(request);
        var again = lora.Generate(request with { Seed = 11 });
        Assert.Equal((0, 1), (again.Timings.UnetBindings, again.Timings.UnetBindingsReused));
        using var freshModels = new SdxlModels();
        var fresh = freshModels.Engine(SdxlModels.Options(ModelKind.LcmLora)).Generate(request with { Seed = 11 });
        Assert.Equal(fresh.Images[0].Rgb, again.Images[0].Rgb);
    }

    [Fact]
    public void In_a_batch_each_distinct_prompt_is_encoded_once_and_alone_so_its_embeddings_do_not_depend_on_the_batch()
    {
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu);
        var results = engine.GenerateBatch([Request("a red boat"), Request("a green hill"), Request("a red boat", seed: 5)]);
        Assert.All(results, r => Assert.Equal((2, 1), (r.Timings.PromptsEncoded, r.Timings.PromptsReused)));

        // The batch's third image against the same request alone on a fresh engine: only the UNet's batch may round otherwise.
        using var fresh = LcmEngine.Load(models.Fp32Path, TestModels.Cpu);
        Images.AssertSameImage(fresh.Generate(Request("a red boat", seed: 5)).Images[0], results[2].Images[0]);
    }

    [Fact]
    public void Classifier_free_guidance_reuses_a_negative_prompt_and_zero_negatives_are_not_encoded()
    {
        using var sdxl = new SdxlModels();
        var engine = sdxl.Engine(SdxlModels.Options(ModelKind.LcmLora));
        var withNegative = engine.Generate(Request("a red boat") with { GuidanceScale = 2, NegativePrompt = "blurry" });
        var sameNegative = engine.Generate(Request("a green hill") with { GuidanceScale = 2, NegativePrompt = "blurry" });
        var zeros = engine.Generate(Request("a blue door") with { GuidanceScale = 2 });
        Assert.Equal((2, 0), (withNegative.Timings.PromptsEncoded, withNegative.Timings.PromptsReused));
        Assert.Equal((1, 1), (sameNegative.Timings.PromptsEncoded, sameNegative.Timings.PromptsReused));
        Assert.Equal((1, 0), (zeros.Timings.PromptsEncoded, zeros.Timings.PromptsReused));
    }
}

/// <summary>The cache's bound: least recently used out first, nothing larger than the whole bound kept.</summary>
public sealed class PromptEmbeddingCacheTests
{
    private static TextEmbeddings Embeddings(int floats) => new(new float[floats], null);

    [Fact]
    public void Past_its_bytes_the_least_recently_used_entry_goes_first()
    {
        var cache = new PromptEmbeddingCache(maxBytes: 3 * 400);
        cache.Add("a", Embeddings(100));
        cache.Add("b", Embeddings(100));
        cache.Add("c", Embeddings(100));
        Assert.True(cache.TryGet("a", out _)); // now b is the oldest
        cache.Add("d", Embeddings(100));

        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("d", out var d));
        Assert.Equal(100, d.Hidden.Length);
    }

    [Fact]
    public void An_entry_larger_than_the_bound_is_not_kept_and_evicts_nothing()
    {
        var cache = new PromptEmbeddingCache(maxBytes: 1000);
        cache.Add("small", Embeddings(10));
        cache.Add("huge", Embeddings(1000));
        Assert.False(cache.TryGet("huge", out _));
        Assert.True(cache.TryGet("small", out _));
    }
}
