using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Jobs;
using Lcm.SyntheticModels;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Jobs through the queue on SD 1.5-style and SDXL models with LoRAs from the worker's LoRA folder.</summary>
[Collection(ServiceCollection.Name)]
public sealed class LoraServiceTests(AzuriteFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lcm-lora-service-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_job_naming_a_lora_runs_on_the_merged_model_and_an_unknown_lora_fails()
    {
        string model = Path.Combine(_root, "sd15"), loras = Path.Combine(_root, "loras");
        TestModelMaker.Write(model, new TestModelOptions { Sd15Style = true });
        Directory.CreateDirectory(loras);
        TestLoraMaker.Write(Path.Combine(loras, "style.safetensors"), new TestLoraOptions());
        var (worker, client) = await StartWorkerAsync(model, loras);
        await using var _ = worker;

        var plain = await client.SubmitAsync(new JobRequest { Prompt = "a cat", Width = 64, Height = 64, Steps = 2, Seed = 4 });
        var styled = await client.SubmitAsync(new JobRequest { Prompt = "a cat", Width = 64, Height = 64, Steps = 2, Seed = 4, Loras = [new JobLora("style", 1.0)] });
        var unknown = await client.SubmitAsync(new JobRequest { Prompt = "a cat", Width = 64, Height = 64, Loras = [new JobLora("nowhere", 1.0)] });

        var plainDone = await client.WaitForCompletionAsync(plain.Id, ServiceStorage.Timeout);
        var styledDone = await client.WaitForCompletionAsync(styled.Id, ServiceStorage.Timeout);
        output.WriteLine(styledDone.Json());
        Assert.Equal(JobState.Succeeded, plainDone.Status);
        Assert.Equal(JobState.Succeeded, styledDone.Status);
        // The model kind's default guidance is written into the status (1.0 for LCM-LoRA models).
        Assert.Equal(1.0, plainDone.Request!.GuidanceScale);
        Assert.NotEqual(await fixture.DownloadImageAsync(plainDone.Images[0].Blob), await fixture.DownloadImageAsync(styledDone.Images[0].Blob));
        var failed = await client.WaitForCompletionAsync(unknown.Id, ServiceStorage.Timeout);
        Assert.Equal("unknown_lora", failed.Error!.Code);
    }

    [Fact]
    public async Task A_job_naming_an_sdxl_lora_runs_on_the_merged_sdxl_model_and_an_sd15_lora_fails_with_lora_mismatch()
    {
        string model = Path.Combine(_root, "sdxl"), loras = Path.Combine(_root, "loras");
        TestModelMaker.Write(model, new TestModelOptions { Family = ModelFamily.StableDiffusionXL, Kind = ModelKind.LcmLora });
        Directory.CreateDirectory(loras);
        TestLoraMaker.Write(Path.Combine(loras, "sdxl-style.safetensors"), new TestLoraOptions { Family = ModelFamily.StableDiffusionXL, Format = LoraKeyFormat.KohyaSgm });
        TestLoraMaker.Write(Path.Combine(loras, "sd15-style.safetensors"), new TestLoraOptions());
        var (worker, client) = await StartWorkerAsync(model, loras);
        await using var _ = worker;
        JobRequest Request(params JobLora[] jobLoras) => new() { Prompt = "a cat", Width = 64, Height = 64, Steps = 2, Seed = 4, Loras = jobLoras };

        var plain = await client.SubmitAsync(Request());
        var styled = await client.SubmitAsync(Request(new JobLora("sdxl-style", 0.8)));
        var mismatched = await client.SubmitAsync(Request(new JobLora("sd15-style", 1.0)));

        var plainDone = await client.WaitForCompletionAsync(plain.Id, ServiceStorage.Timeout);
        var styledDone = await client.WaitForCompletionAsync(styled.Id, ServiceStorage.Timeout);
        output.WriteLine(styledDone.Json());
        Assert.Equal(JobState.Succeeded, plainDone.Status);
        Assert.Equal(JobState.Succeeded, styledDone.Status);
        Assert.NotEqual(await fixture.DownloadImageAsync(plainDone.Images[0].Blob), await fixture.DownloadImageAsync(styledDone.Images[0].Blob));
        var failed = await client.WaitForCompletionAsync(mismatched.Id, ServiceStorage.Timeout);
        Assert.Equal("lora_mismatch", failed.Error!.Code);
        Assert.Contains("nothing was merged", failed.Error.Message);
    }

    [Fact]
    public async Task A_distilled_model_writes_its_default_guidance_into_the_status()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string id = $"guide-{Guid.NewGuid():N}"[..20];
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{id}}","prompt":"a cat","width":64,"height":64,"steps":1}""");
        Assert.Equal(8.5, (await fixture.WaitForTerminalAsync(id)).Request!.GuidanceScale);
    }

    /// <summary>A worker on <paramref name="model"/> with the LoRA folder <paramref name="loras"/>, as lcm worker composes it, and a client of its queue.</summary>
    private async Task<(TestWorker, LcmJobClient)> StartWorkerAsync(string model, string loras)
    {
        var names = fixture.NewNames();
        var settings = TestWorker.Settings(names) with
        {
            Engine = AzuriteFixture.EngineOptions with { PreparedCacheDirectory = null, MergedModelDirectory = Path.Combine(_root, "merged") },
            Lora = new LoraSettings { Folder = loras },
        };
        var worker = await TestWorker.StartLocalAsync(fixture, settings, output, model);
        return (worker, new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) }));
    }
}
