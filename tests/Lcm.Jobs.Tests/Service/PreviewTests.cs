using System.Text.Json;
using Lcm.Client;
using Lcm.Jobs;
using Lcm.Contracts;
using Lcm.Engine.Pipelines;
using Lcm.Tests.Generation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Jobs that ask for previews while they run, and for the tiny decoder, through a real worker on Azurite.</summary>
[Collection(ServiceCollection.Name)]
public sealed class PreviewTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_running_job_with_previews_shows_its_latest_preview_in_status_and_progress_webhooks_as_a_small_jpeg()
    {
        var names = fixture.NewNames();
        using var receiver = new WebhookReceiver();
        string secret = "whsec_" + Convert.ToBase64String(new byte[32]);
        var webhooks = new WebhookOptions { Keys = [WebhookSignature.Key(secret)], Policy = new WebhookPolicy { AllowHttpLoopback = true } };
        var held = new HeldGenerator(fixture.Engine);
        await using var worker = await TestWorker.StartAsync(fixture, names, output, generator: held,
            processor: TestWorker.FastProcessor with { ProgressInterval = TimeSpan.FromMilliseconds(20), Webhooks = webhooks });
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names, Webhooks = webhooks.Policy });
        var job = await client.SubmitAsync(new JobRequest
        {
            Prompt = "a preview, please", Width = 128, Height = 64, Steps = 4, Seed = 8,
            Previews = true, Webhook = receiver.Url(), WebhookEvents = [Webhooks.Progress, Webhooks.Completed],
        });

        // Held after its steps: the last step's progress, with its preview, is written while the job still runs.
        var running = await fixture.WaitForStatusAsync(job.Id, s => s.Progress?.Preview?.Step == 4 || s.IsTerminal);
        var hook = await WaitForProgressHookAsync(receiver, 4);
        held.Release();
        var done = await client.WaitForCompletionAsync(job.Id, ServiceStorage.Timeout);
        output.WriteLine(running.Json());

        Assert.Equal(JobState.Running, running.Status);
        var preview = running.Progress!.Preview!;
        Assert.Equal($"{job.Id}/preview.jpg", preview.Blob);
        Assert.True(WebhookTests.SignedWith(secret, hook), "the progress webhook is signed");
        var sent = JsonDocument.Parse(hook.Body).RootElement.GetProperty("progress").GetProperty("preview");
        Assert.Equal((preview.Blob, 4), (sent.GetProperty("blob").GetString(), sent.GetProperty("step").GetInt32()));
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Null(done.Progress);
        Assert.Equal([$"{job.Id}/0.png", $"{job.Id}/preview.jpg"], await fixture.ImageBlobsAsync(job.Id));
        // Drawn by the folder's tiny autoencoder at the image's size, scaled so the longer side is 256 pixels.
        byte[] jpeg = await fixture.DownloadImageAsync(preview.Blob);
        ServiceStorage.AssertImage(jpeg, "JPEG", 256, 128);
        using var picture = Image.Load<Rgb24>(jpeg);
        Assert.True(Enumerable.Range(0, 256).Select(x => picture[x, 64]).Distinct().Count() > 4, "the preview should not be one colour");
    }

    private static async Task<ReceivedWebhook> WaitForProgressHookAsync(WebhookReceiver receiver, int step)
    {
        var deadline = DateTime.UtcNow + ServiceStorage.Timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var hook in receiver.Received.ToArray())
                if (hook.Headers["webhook-id"].Contains(".progress.") &&
                    JsonDocument.Parse(hook.Body).RootElement.GetProperty("progress").TryGetProperty("preview", out var p) &&
                    p.ValueKind == JsonValueKind.Object && p.GetProperty("step").GetInt32() == step)
                    return hook;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no progress webhook with the preview of step {step}");
    }

    [Fact]
    public async Task The_client_signs_a_running_jobs_preview_url_as_it_signs_image_urls()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        string id = $"preview-{Guid.NewGuid():N}";
        string blob = await fixture.Images.UploadPreviewAsync(id, [0xFF, 0xD8, 0xFF, 0xD9]);
        await fixture.Statuses.UpdateAsync(id, _ => ValueTask.FromResult<JobStatus?>(new JobStatus
        {
            Id = id, Status = JobState.Running, Attempts = 1, CreatedAt = DateTimeOffset.UtcNow, StartedAt = DateTimeOffset.UtcNow,
            Request = new JobRequest { Prompt = "a cat", Previews = true },
            Progress = new JobProgress(2, 4, 0, 1) { Preview = new JobPreview(blob, "http://unsigned.invalid/" + blob, 2) },
        }), maxRaces: 2, CancellationToken.None);

        var status = (await client.GetStatusAsync(id))!;
        Assert.Contains("sig=", status.Progress!.Preview!.Url);
        using var http = new HttpClient();
        Assert.Equal([0xFF, 0xD8, 0xFF, 0xD9], await http.GetByteArrayAsync(status.Progress.Preview.Url));
    }

    [Fact]
    public async Task A_tiny_decoder_job_gives_the_engines_tiny_picture_and_its_status_records_the_decoder()
    {
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var request = new JobRequest { Prompt = "a quick draft", Width = 64, Height = 64, Steps = 2, Seed = 5 };
        var tiny = await client.SubmitAsync(request with { Decoder = "tiny" });
        var full = await client.SubmitAsync(request);
        var (tinyDone, fullDone) = (await fixture.WaitForTerminalAsync(tiny.Id), await fixture.WaitForTerminalAsync(full.Id));
        output.WriteLine(tinyDone.Json());

        Assert.Equal((JobState.Succeeded, "tiny"), (tinyDone.Status, tinyDone.Request!.Decoder));
        Assert.Equal((JobState.Succeeded, "full"), (fullDone.Status, fullDone.Request!.Decoder));
        // No previews were asked for: only the image.
        Assert.Equal([$"{tiny.Id}/0.png"], await fixture.ImageBlobsAsync(tiny.Id));
        var expected = fixture.Engine.Generate(new GenerationRequest { Prompt = "a quick draft", Width = 64, Height = 64, Steps = 2, Seed = 5, Decoder = VaeDecoderKind.Tiny });
        Assert.Equal(expected.Images[0].Rgb, Pixels(await fixture.DownloadImageAsync(tinyDone.Images[0].Blob)));
        Assert.NotEqual(Pixels(await fixture.DownloadImageAsync(fullDone.Images[0].Blob)), Pixels(await fixture.DownloadImageAsync(tinyDone.Images[0].Blob)));
    }

    [Fact]
    public async Task A_tiny_decoder_job_on_a_model_without_one_fails_with_its_code()
    {
        string folder = TestModels.CopyFolder(fixture.ModelPath, Directory.CreateTempSubdirectory("lcm-no-tiny-").FullName);
        Directory.Delete(Path.Combine(folder, "vae_decoder_tiny"), recursive: true);
        using var engine = Lcm.Engine.Pipelines.LcmEngine.Load(folder, AzuriteFixture.EngineOptions);
        var names = fixture.NewNames();
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });
        await using (var worker = await TestWorker.StartAsync(fixture, names, output, generator: engine))
        {
            var job = await client.SubmitAsync(new JobRequest { Prompt = "a draft", Width = 64, Height = 64, Steps = 1, Decoder = "tiny" });
            var failed = await fixture.WaitForTerminalAsync(job.Id);
            Assert.Equal((JobState.Failed, JobErrorCodes.TinyDecoderUnavailable), (failed.Status, failed.Error!.Code));
            Assert.Contains("LCM_TINY_VAE_PATH", failed.Error.Message);
            Assert.Empty(await fixture.ImageBlobsAsync(job.Id));
        }
        Directory.Delete(folder, recursive: true);
    }

    private static byte[] Pixels(byte[] png)
    {
        using var image = Image.Load<Rgb24>(png);
        var rgb = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(rgb);
        return rgb;
    }
}
