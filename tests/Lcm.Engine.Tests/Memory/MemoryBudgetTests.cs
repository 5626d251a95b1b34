using System.Text.RegularExpressions;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Memory;
using Lcm.Engine.Pipelines;
using Lcm.Tests.Service;
using Xunit.Abstractions;

namespace Lcm.Tests.Generation;

/// <summary>Requests whose estimated peak memory is over the budget are refused up front; a batch that would not fit runs apart; an out-of-memory fails the run with a code.</summary>
public sealed partial class MemoryBudgetTests(TestModels models, ITestOutputHelper output) : IClassFixture<TestModels>
{
    private const long MiB = 1024 * 1024;

    private static GenerationRequest Request(int width, int height, int count = 1, long seed = 1) =>
        new() { Prompt = "a lighthouse", Width = width, Height = height, Steps = 1, Seed = seed, Count = count };

    [Fact]
    public void Estimates_follow_the_configs_of_SD_15_and_SDXL_and_grow_with_the_attention_matrix()
    {
        var sd15 = RunMemoryEstimate.For(ConfigFolder("""{"block_out_channels":[320,640,1280,1280],"attention_head_dim":8,"down_block_types":["CrossAttnDownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D","DownBlock2D"]}"""), 4);
        var sdxl = RunMemoryEstimate.For(ConfigFolder("""{"block_out_channels":[320,640,1280],"attention_head_dim":[5,10,20],"down_block_types":["DownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D"]}"""), 2);
        Assert.Equal((320, 0, 8, 128), (sd15.UnetChannels, sd15.AttentionLevel, sd15.Heads, sd15.VaeChannels));
        Assert.Equal((0 + 1, 10), (sdxl.AttentionLevel, sdxl.Heads));

        long at512 = sd15.PeakBytes(512, 512, 1), at1024 = sd15.PeakBytes(1024, 1024, 1), big = sd15.PeakBytes(2048, 2048, 8);
        output.WriteLine($"SD 1.5 estimate: 512 {at512 / MiB} MB, 1024 {at1024 / MiB} MB, 2048 x 8 {big / MiB} MB; SDXL 1024 fp16 {sdxl.PeakBytes(1024, 1024, 1) / MiB} MB");
        // SD 1.5 at 512 runs on 8 GB machines; unfused 2048x2048 with eight images fits no 24 GB host or 16 GB GPU.
        Assert.InRange(at512, 256 * MiB, 4096 * MiB);
        Assert.True(at1024 > 8 * at512, "attention over four times the tokens should dominate");
        Assert.True(big > 24L * 1024 * MiB);
        // SDXL's first level has no attention: at 1024 its attention is over a quarter of SD 1.5's tokens.
        Assert.True(sdxl.PeakBytes(1024, 1024, 1) < at1024);
    }

    [Fact]
    public void A_request_over_the_budget_is_refused_with_the_largest_size_that_fits()
    {
        var estimate = models.Engine(float16: false).Capabilities.Memory.Estimate;
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu with { MemoryBudgetBytes = estimate.PeakBytes(256, 192, 1) });

        engine.Validate(Request(256, 192));
        var refused = Assert.Throws<InvalidRequestException>(() => engine.Validate(Request(512, 384)));
        output.WriteLine(refused.Message);
        Assert.Equal(JobErrorCodes.RequestTooLarge, refused.Code);
        Assert.Contains("LCM_MEMORY_BUDGET_MB", refused.Message);
        Assert.Equal((256, 192), LargestFit(refused.Message));

        var four = Assert.Throws<InvalidRequestException>(() => engine.Validate(Request(256, 192, count: 4)));
        var (width, height) = LargestFit(four.Message);
        Assert.True(width < 256 && height < 192, four.Message);
        engine.Validate(Request(width, height, count: 4));
        Assert.Throws<InvalidRequestException>(() => engine.Validate(Request(width + 8, height + 8, count: 4)));
    }

    [Fact]
    public async Task Requests_that_fit_alone_but_not_together_run_as_separate_batches()
    {
        var estimate = models.Engine(float16: false).Capabilities.Memory.Estimate;
        // Two images fit in one UNet run, four do not.
        using var engine = LcmEngine.Load(models.Fp32Path, TestModels.Cpu with { MemoryBudgetBytes = estimate.PeakBytes(64, 64, 2) });
        await using var batching = new BatchingGenerator(engine, new BatchingOptions { MaxImages = 4, MaxWait = TimeSpan.FromSeconds(1) }, new TestLog("batcher", output));
        var requests = new[] { Request(64, 64, count: 2, seed: 1), Request(64, 64, count: 2, seed: 7) };
        foreach (var request in requests) batching.Validate(request);

        var results = await Task.WhenAll(requests.Select(r => batching.GenerateAsync(r, null, CancellationToken.None)));

        Assert.NotSame(results[0].Timings, results[1].Timings);
        for (int i = 0; i < requests.Length; i++)
            for (int j = 0; j < 2; j++) Images.AssertSameImage(engine.Generate(requests[i]).Images[j], results[i].Images[j]);
    }

    [Fact]
    public async Task An_out_of_memory_run_fails_with_its_code_and_a_batch_that_runs_out_is_retried_one_by_one()
    {
        string folder = models.Copy();
        MemoryHogUnet.Write(folder);
        using var engine = LcmEngine.Load(folder, TestModels.Cpu);

        var alone = Assert.Throws<InvalidRequestException>(() => engine.Generate(Request(64, 64)));
        output.WriteLine(alone.Message);
        Assert.Equal(JobErrorCodes.OutOfMemory, alone.Code);

        var log = new TestLog("batcher", output);
        await using var batching = new BatchingGenerator(engine, new BatchingOptions { MaxImages = 4, MaxWait = TimeSpan.FromSeconds(1) }, log);
        var runs = new[] { Request(64, 64, seed: 1), Request(64, 64, seed: 2) }.Select(r => batching.GenerateAsync(r, null, CancellationToken.None)).ToArray();
        foreach (var run in runs)
            Assert.Equal(JobErrorCodes.OutOfMemory, (await Assert.ThrowsAsync<InvalidRequestException>(() => run)).Code);
        Assert.Equal(1, log.Count("ran out of memory; running them one by one"));
    }

    private string ConfigFolder(string unetConfig)
    {
        string folder = models.NewDirectory("memory-config");
        Directory.CreateDirectory(Path.Combine(folder, "unet"));
        File.WriteAllText(Path.Combine(folder, "unet", "config.json"), unetConfig);
        return folder;
    }

    private static (int Width, int Height) LargestFit(string message)
    {
        var match = FitPattern().Match(message);
        Assert.True(match.Success, message);
        return (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value));
    }

    [GeneratedRegex(@"largest that fits(?: with count \d+)? is (\d+)x(\d+)")]
    private static partial Regex FitPattern();
}
