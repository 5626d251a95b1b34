using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Lora;

/// <summary>
/// The worker's LoRA routing: names resolved in the LoRA folder only, problems as request errors with
/// their codes, and a small LRU of merged engines that never disposes one a job is using.
/// </summary>
public sealed class LoraGeneratorTests(LoraFixture fixture) : IClassFixture<LoraFixture>, IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private int _loads;

    public void Dispose() => _owned.ForEach(d => d.Dispose());

    private static GenerationRequest Request(params LoraReference[] loras) => new()
    {
        Prompt = "a photo of a cat",
        Width = 64,
        Height = 64,
        Steps = 1,
        Seed = 9,
        Loras = loras,
    };

    /// <summary>A LoRA folder with self-made LoRAs named a, b and c.</summary>
    private string Folder()
    {
        string folder = fixture.NewDirectory("loras");
        foreach (var (name, seed) in new[] { ("a", 1), ("b", 2), ("c", 3) })
            TestLoraMaker.Write(Path.Combine(folder, $"{name}.safetensors"), new TestLoraOptions { Seed = seed });
        return folder;
    }

    private MergedEngineCache Engines(int capacity)
    {
        var options = TestModels.Cpu with { MergedModelDirectory = fixture.NewDirectory("merged") };
        var cache = new MergedEngineCache(capacity, loras =>
        {
            Interlocked.Increment(ref _loads);
            return LcmEngine.Load(fixture.Model(false), options, loras: loras);
        });
        _owned.Add(cache);
        return cache;
    }

    private LoraGenerator Generator(string? folder, int capacity = 2)
    {
        var engine = LcmEngine.Load(fixture.Model(false), TestModels.Cpu);
        _owned.Add(engine);
        return new LoraGenerator(engine, new LoraFolder(folder), Engines(capacity), NullLogger.Instance);
    }

    [Fact]
    public async Task A_request_with_a_lora_runs_on_the_merged_variant_and_one_without_on_the_base_model()
    {
        string folder = Folder();
        var generator = Generator(folder);
        var file = new LoraFile("a", Path.Combine(folder, "a.safetensors"), 0.5);
        using var expected = LcmEngine.Load(fixture.Model(false), TestModels.Cpu with { MergedModelDirectory = fixture.NewDirectory("merged") }, loras: [file]);
        using var plain = LcmEngine.Load(fixture.Model(false), TestModels.Cpu);

        var merged = await generator.GenerateAsync(Request(file.Reference), null, CancellationToken.None);
        var unmerged = await generator.GenerateAsync(Request(), null, CancellationToken.None);

        Assert.Equal(expected.Generate(Request(file.Reference)).Images[0].Rgb, merged.Images[0].Rgb);
        Assert.Equal(plain.Generate(Request()).Images[0].Rgb, unmerged.Images[0].Rgb);
        Assert.Equal(ModelKind.LcmLora, generator.Capabilities.Kind);
    }

    [Fact]
    public async Task Unknown_names_fail_with_unknown_lora_and_list_what_the_folder_has()
    {
        var generator = Generator(Folder());

        var error = Assert.Throws<InvalidRequestException>(() => generator.Validate(Request(new LoraReference("missing"))));
        Assert.Equal("unknown_lora", error.Code);
        Assert.Contains("there is no 'missing.safetensors' in the LoRA folder; available: 'a', 'b', 'c'", error.Message);
        var running = await Assert.ThrowsAsync<InvalidRequestException>(() => generator.GenerateAsync(Request(new LoraReference("a"), new LoraReference("x")), null, CancellationToken.None));
        Assert.Equal("unknown_lora", running.Code);
        Assert.Equal(0, _loads);
    }

    [Fact]
    public void Without_a_lora_folder_every_lora_is_unknown()
    {
        var generator = Generator(folder: null);

        var error = Assert.Throws<InvalidRequestException>(() => generator.Validate(Request(new LoraReference("a"))));

        Assert.Equal("unknown_lora", error.Code);
        Assert.Contains("LCM_LORA_PATH", error.Message);
        generator.Validate(Request());
    }

    [Theory]
    [InlineData("../a")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/a")]
    [InlineData("..")]
    [InlineData("https://example.com/a")]
    [InlineData(".hidden")]
    [InlineData("")]
    public void Names_are_never_paths(string name)
    {
        Assert.False(Names.IsValidLoraName(name));
        var error = Assert.Throws<InvalidRequestException>(() => Request(new LoraReference(name)).Validate());
        Assert.Equal("invalid_loras", error.Code);
    }

    [Fact]
    public async Task A_malformed_or_mismatched_lora_fails_the_request_with_its_code()
    {
        string folder = Folder();
        File.WriteAllBytes(Path.Combine(folder, "broken.safetensors"), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        // SGM input block 7 is down block 3 at one layer per block; this UNet has one down block.
        SafeTensorsWriter.Write(Path.Combine(folder, "other-model.safetensors"),
            [new("lora_unet_input_blocks_7_1_proj_in.lora_down.weight", [1, 8], new float[8]), new("lora_unet_input_blocks_7_1_proj_in.lora_up.weight", [8, 1], new float[8])]);
        var generator = Generator(folder);

        var broken = await Assert.ThrowsAsync<InvalidRequestException>(() => generator.GenerateAsync(Request(new LoraReference("broken")), null, CancellationToken.None));
        var mismatch = await Assert.ThrowsAsync<InvalidRequestException>(() => generator.GenerateAsync(Request(new LoraReference("other-model")), null, CancellationToken.None));

        Assert.Equal("invalid_lora", broken.Code);
        Assert.Equal("lora_mismatch", mismatch.Code);
        Assert.Contains("down_blocks_3_attentions_0_proj_in ('input_blocks_7_1_proj_in' in the file:", mismatch.Message);
    }

    [Fact]
    public async Task The_least_recently_used_variant_is_evicted_and_disposed_and_loaded_again_when_asked_for()
    {
        string folder = Folder();
        var generator = Generator(folder, capacity: 2);
        async Task Run(string name) => await generator.GenerateAsync(Request(new LoraReference(name)), null, CancellationToken.None);

        await Run("a");
        await Run("b");
        await Run("a"); // a is now the most recent
        await Run("c"); // evicts b
        Assert.Equal(3, _loads);
        await Run("a");
        Assert.Equal(3, _loads);
        await Run("b");
        Assert.Equal(4, _loads);
    }

    [Fact]
    public void An_evicted_engine_in_use_is_disposed_only_when_its_last_lease_ends()
    {
        string folder = Folder();
        var engines = Engines(capacity: 1);
        LoraFile File(string name) => new(name, Path.Combine(folder, $"{name}.safetensors"), 1.0);

        var lease = engines.Acquire([File("a")]);
        using (engines.Acquire([File("b")])) { }
        Assert.Equal(1, engines.Count);

        // Evicted but leased: still usable.
        Assert.Single(lease.Engine.Generate(Request(new LoraReference("a"))).Images);
        lease.Dispose();
        lease.Dispose(); // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => lease.Engine.Generate(Request(new LoraReference("a"))));

        // Scale is part of the variant.
        using (engines.Acquire([File("b") with { Scale = 0.5 }])) { }
        Assert.Equal(3, _loads);
    }

    [Fact]
    public void Settings_come_from_the_environment()
    {
        var values = new Dictionary<string, string> { ["LCM_LORA_PATH"] = "loras", ["LCM_LORA_CACHE_SIZE"] = "3" };

        var settings = LoraSettings.FromEnvironment(name => values.GetValueOrDefault(name));

        Assert.Equal(new LoraSettings { Folder = Path.GetFullPath("loras"), CacheSize = 3 }, settings);
        Assert.Equal(new LoraSettings(), LoraSettings.FromEnvironment(_ => null));
        values["LCM_LORA_CACHE_SIZE"] = "0";
        Assert.Contains("LCM_LORA_CACHE_SIZE", Assert.Throws<ArgumentException>(() => LoraSettings.FromEnvironment(name => values.GetValueOrDefault(name))).Message);
    }
}
