using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Image-to-image through the queue: the client uploads the init image (claim-check), the worker reads it from lcm-inputs only.</summary>
[Collection(ServiceCollection.Name)]
public sealed class ImageToImageServiceTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private LcmJobClient Client(StorageNames names) =>
        new(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });

    [Fact]
    public async Task An_uploaded_init_image_becomes_a_job_at_its_own_size_and_is_deterministic()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var client = Client(names);
        byte[] init = TestPngs.Gradient(100, 75);

        var first = await client.SubmitAsync(new JobRequest { Prompt = "a watercolour", Seed = 5, Steps = 2, Strength = 0.5 }, new MemoryStream(init));
        Assert.Equal($"{first.Id}/init", first.Request!.InitImage);
        var again = await client.SubmitAsync(new JobRequest { Prompt = "a watercolour", Seed = 5, Steps = 2, Strength = 0.5 }, new MemoryStream(init));
        var done = await client.WaitForCompletionAsync(first.Id, ServiceStorage.Timeout);
        var repeat = await client.WaitForCompletionAsync(again.Id, ServiceStorage.Timeout);

        output.WriteLine(done.Json());
        Assert.Equal(JobState.Succeeded, done.Status);
        // No size given: the image's own, rounded down to multiples of 8.
        Assert.Equal((96, 72), (done.Request!.Width, done.Request.Height));
        Assert.Equal(0.5, done.Request.Strength);
        byte[] image = await fixture.DownloadImageAsync(done.Images[0].Blob);
        ServiceStorage.AssertImage(image, "png", 96, 72);
        Assert.Equal(image, await fixture.DownloadImageAsync(repeat.Images[0].Blob));
    }

    [Fact]
    public async Task The_worker_and_lcm_generate_give_an_init_image_the_same_default_size_under_LCM_MAX_IMAGE_SIZE()
    {
        // 200x150 under a 128-pixel limit: each side is clamped to 128, where the contract's 2048 would give 200x144.
        var names = fixture.NewNames();
        var settings = TestWorker.Settings(names) with { Engine = AzuriteFixture.EngineOptions with { MaxImageSize = 128 } };
        await using var worker = await TestWorker.StartLocalAsync(fixture, settings, output);
        byte[] init = TestPngs.Gradient(200, 150);
        string file = Path.Combine(Path.GetTempPath(), $"init-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(file, init);
        string outputFile = Path.ChangeExtension(file, ".out.png");
        try
        {
            var submitted = await Client(names).SubmitAsync(new JobRequest { Prompt = "a watercolour", Seed = 5, Steps = 2 }, new MemoryStream(init));
            var done = await Client(names).WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
            var cli = await CliProcess.RunAsync(["generate", "--prompt", "a watercolour", "--init-image", file, "--output", outputFile, "--seed", "5", "--steps", "2"],
                new Dictionary<string, string> { ["LCM_MAX_IMAGE_SIZE"] = "128", ["LCM_MODEL_PATH"] = fixture.ModelPath }, output: output);

            Assert.Equal(JobState.Succeeded, done.Status);
            Assert.Equal(0, cli.ExitCode);
            using var generated = Image.Load<Rgb24>(outputFile);
            Assert.Equal((128, 128), (done.Request!.Width!.Value, done.Request.Height!.Value));
            Assert.Equal((done.Images[0].Width, done.Images[0].Height), (generated.Width, generated.Height));
        }
        finally
        {
            File.Delete(file);
            File.Delete(outputFile);
        }
    }

    [Fact]
    public async Task A_url_of_the_blob_in_this_account_works_and_a_foreign_url_does_not()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var inputs = fixture.Account.Blobs.GetBlobContainerClient(StorageNames.InputsContainer);
        var blob = inputs.GetBlobClient($"shared/{Guid.NewGuid():N}.png");
        await blob.UploadAsync(new BinaryData(TestPngs.Gradient(64, 64)));

        string ok = $"url-{Guid.NewGuid():N}"[..20], foreign = $"foreign-{Guid.NewGuid():N}"[..20], other = $"other-{Guid.NewGuid():N}"[..20];
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{ok}}","prompt":"a cat","steps":2,"initImage":"{{blob.Uri}}"}""");
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{foreign}}","prompt":"a cat","initImage":"https://evil.example.com/lcm-inputs/x.png"}""");
        string statusUrl = fixture.Account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer).GetBlobClient("x.json").Uri.ToString();
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{other}}","prompt":"a cat","initImage":"{{statusUrl}}"}""");

        Assert.Equal(JobState.Succeeded, (await fixture.WaitForTerminalAsync(ok)).Status);
        foreach (string id in new[] { foreign, other })
        {
            var failed = await fixture.WaitForTerminalAsync(id);
            Assert.Equal(JobState.Failed, failed.Status);
            Assert.Equal("invalid_init_image", failed.Error!.Code);
        }
    }

    public static TheoryData<string, byte[], string> BadImages => new()
    {
        { "empty", [], "unsupported_image" },
        { "text named png", "just some text"u8.ToArray(), "unsupported_image" },
        { "gif", [.. "GIF89a"u8, 1, 0, 1, 0, 0, 0, 0, 0x3B], "unsupported_image" },
        { "truncated png", TestPngs.Gradient(64, 64)[..60], "image_corrupt" },
        { "bomb", TestPngs.PngDeclaring(100_000, 100_000), "image_too_large" },
    };

    [Theory]
    [MemberData(nameof(BadImages))]
    public async Task Bad_init_images_fail_the_job_with_their_code_and_the_worker_keeps_serving(string what, byte[] bytes, string code)
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string id = $"bad-{Guid.NewGuid():N}"[..20];
        await fixture.Account.Blobs.GetBlobContainerClient(StorageNames.InputsContainer).GetBlobClient(Names.InitImageBlob(id)).UploadAsync(new BinaryData(bytes));
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{id}}","prompt":"{{what}}","initImage":"{{id}}/init"}""");

        var status = await fixture.WaitForTerminalAsync(id);
        Assert.Equal(JobState.Failed, status.Status);
        Assert.Equal(code, status.Error!.Code);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        string good = $"good-{Guid.NewGuid():N}"[..20];
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{good}}","prompt":"a cat","width":64,"height":64,"steps":1}""");
        Assert.Equal(JobState.Succeeded, (await fixture.WaitForTerminalAsync(good)).Status);
    }

    [Fact]
    public async Task A_missing_init_image_fails_as_not_found()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string id = $"missing-{Guid.NewGuid():N}"[..20];
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{id}}","prompt":"a cat","initImage":"{{id}}/init"}""");
        var status = await fixture.WaitForTerminalAsync(id);
        Assert.Equal("init_image_not_found", status.Error!.Code);
    }
}
