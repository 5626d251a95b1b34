using System.Text.Json.Nodes;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Pipelines;

namespace Lcm.Tests.Generation;

/// <summary>Every refusal of a request through the engine, with its stable code; and prompt truncation.</summary>
public sealed class ValidationTests(TestModels models) : IClassFixture<TestModels>
{
    private static readonly GenerationRequest Valid = new() { Prompt = "a cat", Width = 64, Height = 64, Steps = 1, Seed = 1 };

    // By name, so that each case is its own test (a request is not serializable theory data).
    private static readonly Dictionary<string, (string Code, GenerationRequest Request)> Cases = new()
    {
        ["empty prompt"] = ("invalid_prompt", Valid with { Prompt = "" }),
        ["white-space prompt"] = ("invalid_prompt", Valid with { Prompt = " \t\n " }),
        ["prompt with U+0007"] = ("invalid_prompt", Valid with { Prompt = "a \u0007 cat" }),
        ["prompt with U+007F"] = ("invalid_prompt", Valid with { Prompt = "a cat\u007f" }),
        ["prompt too long"] = ("invalid_prompt", Valid with { Prompt = new string('a', RequestLimits.MaxPromptLength + 1) }),
        ["width not a multiple of 8"] = ("invalid_width", Valid with { Width = 100 }),
        ["width under 64"] = ("invalid_width", Valid with { Width = 56 }),
        ["width over the max"] = ("invalid_width", Valid with { Width = 2056 }),
        ["height not a multiple of 8"] = ("invalid_height", Valid with { Height = 65 }),
        ["height 0"] = ("invalid_height", Valid with { Height = 0 }),
        ["height over the max"] = ("invalid_height", Valid with { Height = 4096 }),
        ["steps 0"] = ("invalid_steps", Valid with { Steps = 0 }),
        ["steps 9"] = ("invalid_steps", Valid with { Steps = 9 }),
        ["guidance -1"] = ("invalid_guidance_scale", Valid with { GuidanceScale = -1 }),
        ["guidance 21"] = ("invalid_guidance_scale", Valid with { GuidanceScale = 21 }),
        ["guidance NaN"] = ("invalid_guidance_scale", Valid with { GuidanceScale = double.NaN }),
        ["guidance infinite"] = ("invalid_guidance_scale", Valid with { GuidanceScale = double.PositiveInfinity }),
        ["count 0"] = ("invalid_count", Valid with { Count = 0 }),
        ["count 9"] = ("invalid_count", Valid with { Count = 9 }),
        ["seed -1"] = ("invalid_seed", Valid with { Seed = -1 }),
        ["seed 2^32"] = ("invalid_seed", Valid with { Seed = 4294967296 }),
    };

    public static TheoryData<string> Invalid => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_request_is_refused_with_its_code(string name)
    {
        var (code, request) = Cases[name];
        var progress = new RecordingProgress();
        var e = Assert.Throws<InvalidRequestException>(() => models.Engine(float16: false).Generate(request, progress));
        Assert.Equal(code, e.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.Empty(progress.Reports); // refused before any work
    }

    [Fact]
    public void Messages_name_the_field_and_the_value_found()
    {
        var engine = models.Engine(float16: false);
        Assert.Contains("found 100", Assert.Throws<InvalidRequestException>(() => engine.Validate(Valid with { Width = 100 })).Message);
        Assert.Contains("U+0007", Assert.Throws<InvalidRequestException>(() => engine.Validate(Valid with { Prompt = "a\u0007" })).Message);
        Assert.Contains("4294967296", Assert.Throws<InvalidRequestException>(() => engine.Validate(Valid with { Seed = 4294967296 })).Message);
    }

    [Fact]
    public void Limits_themselves_are_accepted()
    {
        // The memory budget is a check of its own (MemoryBudgetTests).
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu with { MemoryBudgetBytes = long.MaxValue });
        engine.Validate(Valid with { Width = 2048, Height = 2048, Steps = 8, GuidanceScale = 20, Count = 8, Seed = 4294967295 });
        engine.Validate(Valid with { GuidanceScale = 0, Seed = 0, Prompt = "tab\tand\r\nnewlines are white space" });
        engine.Validate(Valid with { Prompt = new string('a', RequestLimits.MaxPromptLength) });
    }

    [Fact]
    public void Lower_max_image_size_option_refuses_larger_sizes()
    {
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu with { MaxImageSize = 128 });

        Assert.Equal("invalid_width", Assert.Throws<InvalidRequestException>(() => engine.Generate(Valid with { Width = 136 })).Code);
        Assert.Equal("invalid_height", Assert.Throws<InvalidRequestException>(() => engine.Generate(Valid with { Height = 136 })).Code);
        var image = engine.Generate(Valid with { Width = 128, Height = 128 }).Images[0];
        Assert.Equal((128, 128), (image.Width, image.Height));
    }

    [Fact]
    public void Steps_are_limited_by_the_models_original_inference_steps()
    {
        string folder = models.Copy();
        string config = Path.Combine(folder, "scheduler", "scheduler_config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json["original_inference_steps"] = 4;
        File.WriteAllText(config, json.ToJsonString());
        using var engine = LcmEngine.Load(folder, TestModels.Cpu);

        var e = Assert.Throws<InvalidRequestException>(() => engine.Generate(Valid with { Steps = 5 }));
        Assert.Equal("invalid_steps", e.Code);
        Assert.Contains("1..4", e.Message);
        Assert.Single(engine.Generate(Valid with { Steps = 4 }).Images);
        // The default model allows 5.
        Assert.Single(models.Engine(float16: false).Generate(Valid with { Steps = 5 }).Images);
    }

    [Fact]
    public void Prompt_over_77_tokens_is_truncated_with_a_warning()
    {
        var engine = models.Engine(float16: false);
        string words(int n) => string.Join(' ', Enumerable.Repeat("cat", n));
        Assert.Equal(100, engine.Tokenizer.Encode(words(100)).TokenCount); // one token a word

        var longResult = engine.Generate(Valid with { Prompt = words(100) });
        var fitting = engine.Generate(Valid with { Prompt = words(75) });
        var shorter = engine.Generate(Valid with { Prompt = words(74) });

        string warning = Assert.Single(longResult.Warnings);
        Assert.Contains("100 tokens", warning);
        Assert.Contains("75", warning);
        Assert.Empty(fitting.Warnings);
        // What was dropped made no difference; one token fewer does.
        Assert.Equal(Images.Png(fitting), Images.Png(longResult));
        Assert.NotEqual(Images.Png(fitting), Images.Png(shorter));
    }
}
