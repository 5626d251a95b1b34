using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Models;
using Lcm.SyntheticModels;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Jobs through the queue on SDXL-layout test models, served by the worker as <c>lcm worker</c> composes it.</summary>
[Collection(ServiceCollection.Name)]
public sealed class SdxlServiceTests(AzuriteFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lcm-sdxl-service-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private async Task<(TestWorker Worker, LcmJobClient Client)> StartAsync(TestModelOptions options)
    {
        string model = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        TestModelMaker.Write(model, options with { Family = ModelFamily.StableDiffusionXL });
        var names = fixture.NewNames();
        var settings = TestWorker.Settings(names) with { Engine = AzuriteFixture.EngineOptions with { PreparedCacheDirectory = null } };
        var worker = await TestWorker.StartLocalAsync(fixture, settings, output, model);
        return (worker, new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) }));
    }

    [Fact]
    public async Task Jobs_take_the_sdxl_defaults_and_keep_an_absent_negative_prompt_apart_from_an_empty_one()
    {
        var (worker, client) = await StartAsync(new TestModelOptions { Kind = ModelKind.LcmLora });
        await using var _ = worker;

        var defaults = await client.SubmitAsync(new JobRequest { Prompt = "a cat!", Steps = 1, Seed = 3 });
        var absent = await client.SubmitAsync(new JobRequest { Prompt = "a cat!", Width = 96, Height = 64, Steps = 2, Seed = 3, GuidanceScale = 1.5 });
        var empty = await client.SubmitAsync(new JobRequest { Prompt = "a cat!", Width = 96, Height = 64, Steps = 2, Seed = 3, GuidanceScale = 1.5, NegativePrompt = "" });

        var defaultsDone = await client.WaitForCompletionAsync(defaults.Id, ServiceStorage.Timeout);
        var absentDone = await client.WaitForCompletionAsync(absent.Id, ServiceStorage.Timeout);
        var emptyDone = await client.WaitForCompletionAsync(empty.Id, ServiceStorage.Timeout);
        output.WriteLine(absentDone.Json());
        Assert.Equal([JobState.Succeeded, JobState.Succeeded, JobState.Succeeded], new[] { defaultsDone.Status, absentDone.Status, emptyDone.Status });
        // An SDXL UNet's sample_size of 128 is 1024 pixels; LCM-LoRA guidance defaults to 1.
        Assert.Equal((1024, 1024, 1.0), (defaultsDone.Request!.Width, defaultsDone.Request.Height, defaultsDone.Request.GuidanceScale));
        ServiceStorage.AssertImage(await fixture.DownloadImageAsync(defaultsDone.Images[0].Blob), "PNG", 1024, 1024);
        Assert.Null(absentDone.Request!.NegativePrompt);
        Assert.Equal("", emptyDone.Request!.NegativePrompt);
        // No negative prompt guides against zero embeddings; an empty one against the encoded empty text.
        Assert.NotEqual(await fixture.DownloadImageAsync(absentDone.Images[0].Blob), await fixture.DownloadImageAsync(emptyDone.Images[0].Blob));
    }

    [Fact]
    public async Task A_distilled_lcm_sdxl_job_succeeds_with_its_default_guidance()
    {
        var (worker, client) = await StartAsync(new TestModelOptions { Kind = ModelKind.Distilled, Era = ExportEra.Legacy, Float16 = true, Float32Vae = true });
        await using var _ = worker;

        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "a lighthouse", Width = 64, Height = 96, Steps = 2, Seed = 9, Count = 2 });

        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Equal(8.0, done.Request!.GuidanceScale);
        Assert.Equal([(64, 96, 9L), (64, 96, 10L)], done.Images.Select(i => (i.Width, i.Height, i.Seed)));
    }

    [Fact]
    public async Task A_vae_that_overflows_fails_the_job_with_vae_overflow_at_once()
    {
        var (worker, client) = await StartAsync(new TestModelOptions { Kind = ModelKind.LcmLora, Float16 = true, OverflowingVae = true });
        await using var _ = worker;

        var submitted = await client.SubmitAsync(new JobRequest { Prompt = "a cat", Width = 64, Height = 64, Steps = 1, Seed = 1 });

        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        Assert.Equal(JobState.Failed, done.Status);
        Assert.Equal(JobErrorCodes.VaeOverflow, done.Error!.Code);
        Assert.Contains("sdxl-vae-fp16-fix", done.Error.Message);
        Assert.Equal(1, done.Attempts);
        Assert.Empty(done.Images);
    }
}
