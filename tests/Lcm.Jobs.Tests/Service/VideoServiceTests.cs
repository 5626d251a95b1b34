using Lcm.Client;
using Lcm.Contracts;
using Lcm.Jobs;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>Video-to-video through the queue on Azurite: the split, chunks taken by two workers, one assembly, the refusals.</summary>
[Collection(ServiceCollection.Name)]
public sealed class VideoServiceTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    /// <summary>Chunks of 4 frames, so a 16-frame clip is 4 chunk messages for the two workers to share.</summary>
    private static readonly JobProcessorOptions Processor = TestWorker.FastProcessor with { Video = new VideoOptions { ChunkFrames = 4 } };

    private LcmJobClient Client(StorageNames names) =>
        new(fixture.Account, new LcmJobClientOptions { Names = names, PollInterval = TimeSpan.FromMilliseconds(100) });

    private static JobRequest Request(JobVideo video) => new() { Prompt = "a watercolour", Seed = 11, Steps = 2, Video = video };

    [Fact]
    public async Task Each_frame_equals_the_image_to_image_run_of_its_source_frame_with_the_same_seed()
    {
        var names = fixture.NewNames();
        await using var first = await TestWorker.StartAsync(fixture, names, output, processor: Processor, name: "worker-1");
        await using var second = await TestWorker.StartAsync(fixture, names, output, processor: Processor, name: "worker-2");
        var client = Client(names);

        var submitted = await client.SubmitVideoAsync(Request(new JobVideo { Format = "frames" }), new MemoryStream(TestVideos.Clip(size: "100x72")));
        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        output.WriteLine(done.Json());
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Equal(new VideoPlan(16, 8, 4, done.Video!.ChunksDone, 96, 72), done.Video);
        Assert.Equal([0, 1, 2, 3], done.Video.ChunksDone.Order());
        Assert.Equal((96, 72, 0.5), (done.Request!.Width, done.Request.Height, done.Request.Strength));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"{submitted.Id}/{i}.png"), done.Images.Select(i => i.Blob));
        Assert.Equal((16, 16), (done.Progress!.FramesDone, done.Progress.Frames));
        Assert.True(done.Metrics!.FramesPerSecond > 0);
        Assert.Equal(1, first.Log.Count($"Job {submitted.Id} succeeded") + second.Log.Count($"Job {submitted.Id} succeeded"));

        // Frame i is the image-to-image job of source frame i with the job's seed: the same noise on every frame.
        var frames = new FrameStore(fixture.Account.Blobs.GetBlobContainerClient(StorageNames.FramesContainer));
        foreach (int i in new[] { 0, 9, 15 })
        {
            byte[] source = await frames.SourceAsync(submitted.Id, i, CancellationToken.None);
            var single = await client.SubmitAsync(new JobRequest { Prompt = "a watercolour", Seed = 11, Steps = 2, Strength = 0.5 }, new MemoryStream(source));
            var image = await client.WaitForCompletionAsync(single.Id, ServiceStorage.Timeout);
            Assert.Equal(await fixture.DownloadImageAsync(image.Images[0].Blob), await fixture.DownloadImageAsync(done.Images[i].Blob));
        }
    }

    [Fact]
    public async Task An_mp4_is_resampled_and_encoded_without_its_audio_and_redelivered_chunks_change_nothing()
    {
        var names = fixture.NewNames();
        await using var first = await TestWorker.StartAsync(fixture, names, output, processor: Processor, name: "worker-1");
        await using var second = await TestWorker.StartAsync(fixture, names, output, processor: Processor, name: "worker-2");
        var client = Client(names);

        var submitted = await client.SubmitVideoAsync(Request(new JobVideo { Fps = 4 }), new MemoryStream(TestVideos.Clip(audio: true)));
        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        output.WriteLine(done.Json());
        Assert.Equal(JobState.Succeeded, done.Status);
        var video = Assert.Single(done.Images);
        Assert.Equal(($"{submitted.Id}/video.mp4", "video/mp4", 64, 64), (video.Blob, video.ContentType, video.Width, video.Height));
        byte[] bytes = await fixture.DownloadImageAsync(video.Blob);
        Assert.Equal((8, 4.0, false), TestVideos.Probe(bytes));

        // Every chunk and the job itself delivered again after the assembly: the status and the video stand.
        var before = await fixture.Account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer).GetBlobClient($"{submitted.Id}.json").DownloadContentAsync();
        for (int chunk = 0; chunk < done.Video!.Chunks; chunk++)
            await fixture.SendRawAsync(names.JobsQueue, JobMessage.ChunkToBase64(submitted.Id, chunk));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        var after = await fixture.Account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer).GetBlobClient($"{submitted.Id}.json").DownloadContentAsync();
        Assert.Equal(before.Value.Details.ETag, after.Value.Details.ETag);
        Assert.Equal(bytes, await fixture.DownloadImageAsync(video.Blob));
        Assert.Equal(1, first.Log.Count($"Job {submitted.Id} succeeded") + second.Log.Count($"Job {submitted.Id} succeeded"));
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    [Fact]
    public async Task Chunks_delivered_twice_while_the_job_runs_are_recorded_once_and_the_job_finishes_once()
    {
        var names = fixture.NewNames();
        var pairs = Processor with { Video = new VideoOptions { ChunkFrames = 2 } };
        await using var first = await TestWorker.StartAsync(fixture, names, output, processor: pairs, name: "worker-1");
        await using var second = await TestWorker.StartAsync(fixture, names, output, processor: pairs, name: "worker-2");
        var client = Client(names);

        string id = (await client.SubmitVideoAsync(Request(new JobVideo { Format = "gif" }) with { Width = 128, Height = 128 },
            new MemoryStream(TestVideos.Clip(seconds: 1)))).Id;
        // Each chunk a second time as soon as the plan is there: the two copies race on the two workers.
        var split = await fixture.WaitForStatusAsync(id, s => s.Video is not null);
        for (int chunk = 0; chunk < split.Video!.Chunks; chunk++)
            await fixture.SendRawAsync(names.JobsQueue, JobMessage.ChunkToBase64(id, chunk));
        var done = await client.WaitForCompletionAsync(id, ServiceStorage.Timeout);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Equal([0, 1, 2, 3], done.Video!.ChunksDone.Order());
        Assert.Equal([$"{id}/video.gif"], await fixture.ImageBlobsAsync(id));
        Assert.Equal(1, first.Log.Count($"Job {id} succeeded") + second.Log.Count($"Job {id} succeeded"));
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    /// <summary>Frames slow enough on the test model (about a second each here) that a chunk of 4 is still running when the test acts.</summary>
    private static JobRequest SlowRequest() => Request(new JobVideo()) with { Width = 1536, Height = 1536, Steps = 8, Strength = 1 };

    [Fact]
    public async Task A_worker_killed_mid_chunk_changes_nothing_another_takes_the_chunk_after_its_lease()
    {
        var names = fixture.NewNames();
        var client = Client(names);
        byte[] clip = TestVideos.Clip(seconds: 1);
        var settings = new Dictionary<string, string>
        {
            ["LCM_MESSAGE_LEASE_SECONDS"] = "3",
            ["LCM_VIDEO_CHUNK_FRAMES"] = "4",
            ["LCM_BATCH_MAX_IMAGES"] = "1",
        };
        var crashing = CliProcess.StartWorker(fixture.ConnectionString, names, fixture.ModelPath, output, settings);
        string id;
        try
        {
            id = (await client.SubmitVideoAsync(SlowRequest(), new MemoryStream(clip))).Id;
            // Killed only once the split is done and its message gone, and a chunk message is leased (invisible) with no chunk recorded.
            var queue = fixture.Queue(names.JobsQueue);
            var deadline = DateTime.UtcNow + ServiceStorage.Timeout;
            while (true)
            {
                var status = await client.GetStatusAsync(id);
                int queued = (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount;
                int visible = (await queue.PeekMessagesAsync(32)).Value.Length;
                if (status!.Video is { ChunksDone.Count: 0 } plan && queued == plan.Chunks && visible < queued) break;
                Assert.True(DateTime.UtcNow < deadline, $"no chunk was leased: {status.Json()}");
                await Task.Delay(50);
            }
            crashing.Kill();
        }
        finally
        {
            crashing.Dispose();
        }
        Assert.Empty((await client.GetStatusAsync(id))!.Video!.ChunksDone);

        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor, lease: TimeSpan.FromSeconds(3));
        var done = await client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(120));
        var control = await client.WaitForCompletionAsync((await client.SubmitVideoAsync(SlowRequest(), new MemoryStream(clip))).Id, TimeSpan.FromSeconds(120));

        output.WriteLine(done.Json());
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Equal([0, 1], done.Video!.ChunksDone.Order());
        Assert.Equal(await fixture.DownloadImageAsync(control.Images[0].Blob), await fixture.DownloadImageAsync(done.Images[0].Blob));
        Assert.Equal(1, worker.Log.Count($"Job {id} succeeded"));
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    [Fact]
    public async Task Canceling_a_video_job_stops_its_pending_chunks()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor);
        var client = Client(names);

        string id = (await client.SubmitVideoAsync(SlowRequest(), new MemoryStream(TestVideos.Clip(seconds: 1)))).Id;
        await fixture.WaitForStatusAsync(id, s => s.Video is not null);
        await client.CancelAsync(id);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue, TimeSpan.FromSeconds(120));

        var canceled = (await client.GetStatusAsync(id))!;
        Assert.Equal(JobState.Canceled, canceled.Status);
        Assert.True(canceled.Video!.ChunksDone.Count < canceled.Video.Chunks, canceled.Json());
        Assert.Empty(await fixture.ImageBlobsAsync(id));
    }

    [Fact]
    public async Task A_video_job_still_running_at_its_deadline_is_canceled_by_the_chunk_running_then()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor);
        var client = Client(names);

        // Sixteen 1536x1536 frames of eight steps take far longer than the four seconds allowed.
        string id = (await client.SubmitVideoAsync(SlowRequest() with { Deadline = 4 }, new MemoryStream(TestVideos.Clip(seconds: 2)))).Id;
        var canceled = await fixture.WaitForTerminalAsync(id, TimeSpan.FromSeconds(120));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue, TimeSpan.FromSeconds(120));
        output.WriteLine(canceled.Json());

        Assert.Equal((JobState.Canceled, JobErrorCodes.DeadlineExceeded), (canceled.Status, canceled.Error!.Code));
        Assert.True(canceled.Video!.ChunksDone.Count < canceled.Video.Chunks, canceled.Json());
        Assert.Empty(await fixture.ImageBlobsAsync(id));
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
    }

    [Fact]
    public async Task An_animated_gif_is_read_with_its_frame_delays_and_can_come_out_as_a_gif()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor);
        var client = Client(names);

        var submitted = await client.SubmitVideoAsync(Request(new JobVideo { Format = "gif", Fps = 4 }), new MemoryStream(TestVideos.Clip("gif")));
        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        output.WriteLine(done.Json());
        Assert.Equal(JobState.Succeeded, done.Status);
        // ffmpeg writes 2 s at 8 fps as delays of 13, 12, 13, ... and 13 hundredths: 2.01 s, so 9 frames at 4 fps.
        Assert.Equal((9, 4.0), (done.Video!.Frames, done.Video.Fps));
        var gif = Assert.Single(done.Images);
        Assert.Equal("image/gif", gif.ContentType);
        Assert.Equal(9, TestVideos.Probe(await fixture.DownloadImageAsync(gif.Blob)).Frames);
    }

    [Fact]
    public async Task An_animated_webp_is_composited_frame_by_frame_into_testsrcs_own_frames()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: Processor);
        var client = Client(names);

        var submitted = await client.SubmitVideoAsync(Request(new JobVideo { Format = "frames" }), new MemoryStream(TestVideos.Clip("webp")));
        var done = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);

        output.WriteLine(done.Json());
        Assert.Equal(JobState.Succeeded, done.Status);
        Assert.Equal((16, 8.0), (done.Video!.Frames, done.Video.Fps));
        var expected = TestVideos.Frames();
        var frames = new FrameStore(fixture.Account.Blobs.GetBlobContainerClient(StorageNames.FramesContainer));
        foreach (int i in new[] { 0, 7, 15 })
            Assert.Equal(Pixels(expected[i]), Pixels(await frames.SourceAsync(submitted.Id, i, CancellationToken.None)));
    }

    private static byte[] Pixels(byte[] png)
    {
        using var image = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(png);
        var pixels = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(pixels);
        return pixels;
    }

    public static TheoryData<string, string> BadVideos => new()
    {
        { "truncated gif", "invalid_video" },
        { "truncated webp", "invalid_video" },
        { "garbage", "invalid_video" },
        { "audio only", "invalid_video" },
        { "too long", "video_too_long" },
        { "too many frames", "video_too_many_frames" },
        { "over the worker's frame limit", "video_too_many_frames" },
        { "frames too large", "video_frame_too_large" },
        { "missing", "video_not_found" },
    };

    [Fact]
    public async Task A_chunk_that_fails_every_delivery_fails_the_job_with_its_error()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output, new FlakyGenerator(fixture.Engine, _ => true), processor: Processor);
        var client = Client(names);

        var submitted = await client.SubmitVideoAsync(Request(new JobVideo()), new MemoryStream(TestVideos.Clip(seconds: 1)));
        var failed = await client.WaitForCompletionAsync(submitted.Id, ServiceStorage.Timeout);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        output.WriteLine(failed.Json());
        Assert.Equal(JobState.Failed, failed.Status);
        Assert.Equal("retries_exhausted", failed.Error!.Code);
        Assert.Matches("chunk [01]: simulated I/O failure", failed.Error.Message);
        Assert.Empty(failed.Video!.ChunksDone);
        Assert.Empty(await fixture.ImageBlobsAsync(submitted.Id));
    }

    [Fact]
    public async Task Without_ffmpeg_a_job_fails_with_video_tool_missing_and_a_hung_ffmpeg_is_stopped_at_its_time_limit()
    {
        var names = fixture.NewNames();
        string folder = Directory.CreateTempSubdirectory("lcm-fake-ffmpeg-").FullName;
        try
        {
            // An ffmpeg and ffprobe that never answer: the worker kills them after LCM_FFMPEG_TIMEOUT_SECONDS.
            foreach (string tool in new[] { "ffmpeg", "ffprobe" })
            {
                string path = Path.Combine(folder, tool);
                await File.WriteAllTextAsync(path, "#!/bin/sh\nsleep 60\n");
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var client = Client(names);
            var missing = Processor with { Video = new VideoOptions { Ffmpeg = Path.Combine(folder, "no-such-ffmpeg") } };
            await using (var worker = await TestWorker.StartAsync(fixture, names, output, processor: missing))
            {
                var failed = await fixture.WaitForTerminalAsync((await client.SubmitVideoAsync(Request(new JobVideo()), new MemoryStream(TestVideos.Clip()))).Id);
                Assert.Equal("video_tool_missing", failed.Error!.Code);
                Assert.Contains("LCM_FFMPEG", failed.Error.Message);
            }
            var hung = Processor with { Video = new VideoOptions { Ffmpeg = Path.Combine(folder, "ffmpeg"), ToolTimeout = TimeSpan.FromSeconds(1) } };
            await using (var worker = await TestWorker.StartAsync(fixture, names, output, processor: hung))
            {
                var timer = System.Diagnostics.Stopwatch.StartNew();
                var failed = await fixture.WaitForTerminalAsync((await client.SubmitVideoAsync(Request(new JobVideo()), new MemoryStream(TestVideos.Clip()))).Id);
                Assert.Equal("invalid_video", failed.Error!.Code);
                Assert.Contains("LCM_FFMPEG_TIMEOUT_SECONDS", failed.Error.Message);
                Assert.True(timer.Elapsed < TimeSpan.FromSeconds(30), $"{timer.Elapsed}");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(BadVideos))]
    public async Task Bad_videos_are_refused_with_their_code_before_any_frame_is_generated(string what, string code)
    {
        var names = fixture.NewNames();
        var limits = Processor with
        {
            Video = new VideoOptions { MaxSeconds = 3, MaxFrames = 60 },
            InputLimits = Processor.InputLimits with { MaxDimension = 256 },
        };
        await using var worker = await TestWorker.StartAsync(fixture, names, output, processor: limits);
        var (bytes, video) = what switch
        {
            "garbage" => ("not a video at all, just text"u8.ToArray(), new JobVideo()),
            "truncated gif" => (TestVideos.Clip("gif")[..400], new JobVideo()),
            "truncated webp" => (TestVideos.Clip("webp")[..400], new JobVideo()),
            "audio only" => (TestVideos.AudioOnly(), new JobVideo()),
            "too long" => (TestVideos.Clip(seconds: 4, rate: 2), new JobVideo()),
            "too many frames" => (TestVideos.Clip(), new JobVideo { MaxFrames = 10 }),
            "over the worker's frame limit" => (TestVideos.Clip(), new JobVideo { MaxFrames = 100 }),
            "frames too large" => (TestVideos.Clip(size: "320x64", seconds: 0.5), new JobVideo()),
            _ => ([], new JobVideo { Input = "nobody/uploaded-this" }),
        };
        var submitted = what == "missing" ? await Client(names).SubmitAsync(Request(video))
            : await Client(names).SubmitVideoAsync(Request(video), new MemoryStream(bytes));

        var failed = await fixture.WaitForTerminalAsync(submitted.Id);
        output.WriteLine(failed.Json());
        Assert.Equal(JobState.Failed, failed.Status);
        Assert.Equal(code, failed.Error!.Code);
        Assert.Null(failed.Video);
        if (what == "audio only") Assert.Contains("no video stream", failed.Error.Message);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
    }
}
