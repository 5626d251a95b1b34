using System.Text;
using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary><c>lcm submit</c>, <c>status</c>, <c>cancel</c> and <c>demo</c> as separate processes, as people run them.</summary>
[Collection(ServiceCollection.Name)]
public sealed class CliTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Submit_wait_saves_the_png_and_status_and_cancel_print_the_status()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartLocalAsync(fixture, TestWorker.Settings(names), output);
        string folder = Directory.CreateTempSubdirectory("lcm-cli-output-").FullName;
        try
        {
            var submit = await Lcm(["submit", "--prompt", "a cat on a mat", "--width", "64", "--height", "64", "--seed", "7",
                "--wait", "--output", folder], names);
            Assert.True(submit.ExitCode == 0, submit.Stderr);
            var final = JobStatus.FromJson(Encoding.UTF8.GetBytes(submit.Stdout));
            Assert.Equal(JobState.Succeeded, final.Status);
            Assert.Contains($"job {final.Id}: succeeded", submit.Stderr);
            string saved = Path.Combine(folder, $"{final.Id}-0.png");
            Assert.Equal([saved], Directory.GetFiles(folder));
            ServiceStorage.AssertImage(await File.ReadAllBytesAsync(saved), "PNG", 64, 64);
            Assert.Equal(await fixture.DownloadImageAsync(final.Images[0].Blob), await File.ReadAllBytesAsync(saved));

            var status = await Lcm(["status", final.Id], names);
            Assert.True(status.ExitCode == 0, status.Stderr);
            var printed = JobStatus.FromJson(Encoding.UTF8.GetBytes(status.Stdout));
            Assert.Equal((final.Id, JobState.Succeeded, 7L), (printed.Id, printed.Status, printed.Request!.Seed));
            Assert.Contains("sig=", Assert.Single(printed.Images).Url);

            // A finished job keeps its status: cancel prints it unchanged.
            var cancel = await Lcm(["cancel", final.Id], names);
            Assert.True(cancel.ExitCode == 0, cancel.Stderr);
            var unchanged = JobStatus.FromJson(Encoding.UTF8.GetBytes(cancel.Stdout));
            Assert.Equal(JobState.Succeeded, unchanged.Status);
            Assert.Contains("sig=", Assert.Single(unchanged.Images).Url);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Submit_wait_of_a_job_the_worker_refuses_exits_1_with_the_failed_status()
    {
        var names = fixture.NewNames();
        // The worker's host allows at most 128 pixels (LCM_MAX_IMAGE_SIZE); the client, knowing only the contract's limits, sends 256.
        var settings = TestWorker.Settings(names) with { Engine = AzuriteFixture.EngineOptions with { MaxImageSize = 128 } };
        await using var worker = await TestWorker.StartLocalAsync(fixture, settings, output);

        var submit = await Lcm(["submit", "--prompt", "too big for this host", "--width", "256", "--height", "64", "--reply-to", names.ResultsQueue + "-reply", "--wait"], names);

        Assert.Equal(1, submit.ExitCode);
        var failed = JobStatus.FromJson(Encoding.UTF8.GetBytes(submit.Stdout));
        Assert.Equal((JobState.Failed, "invalid_width", 1), (failed.Status, failed.Error!.Code, failed.Attempts));
        Assert.Contains("in 64..128, found 256", failed.Error.Message);
        Assert.NotNull(failed.Metrics);
        Assert.Empty(failed.Images);
        // The job's replyTo hears of the failure too.
        var completed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue + "-reply", 1));
        Assert.Equal(("failed", "invalid_width"), (completed.GetProperty("status").GetString(), completed.GetProperty("error").GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Submit_without_wait_then_cancel_cancels_the_queued_job()
    {
        var names = fixture.NewNames(); // no worker serves these queues

        var submit = await Lcm(["submit", "--prompt", "a job nobody runs", "--id", "cli-" + Guid.NewGuid().ToString("N")[..8]], names);
        Assert.True(submit.ExitCode == 0, submit.Stderr);
        var queued = JobStatus.FromJson(Encoding.UTF8.GetBytes(submit.Stdout));
        Assert.Equal(JobState.Queued, queued.Status);
        Assert.Equal(1, await fixture.MessageCountAsync(names.JobsQueue));

        var cancel = await Lcm(["cancel", queued.Id], names);
        Assert.True(cancel.ExitCode == 0, cancel.Stderr);
        Assert.Equal(JobState.Canceled, JobStatus.FromJson(Encoding.UTF8.GetBytes(cancel.Stdout)).Status);
        Assert.Equal(JobState.Canceled, (await fixture.Statuses.GetAsync(queued.Id))!.Status.Status);

        var missing = await Lcm(["status", "no-such-job"], names);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no job with id 'no-such-job'", missing.Stderr);
    }

    [Fact]
    public async Task Submit_of_an_invalid_request_exits_2_with_the_code_and_sends_nothing()
    {
        var names = fixture.NewNames();
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);

        var submit = await Lcm(["submit", "--prompt", "a cat", "--width", "100"], names);

        Assert.Equal(2, submit.ExitCode);
        Assert.Contains("invalid_width", submit.Stderr);
        Assert.Contains("width must be a multiple of 8", submit.Stderr);
        Assert.Equal("", submit.Stdout);
        Assert.Equal(0, await fixture.MessageCountAsync(names.JobsQueue));
    }

    [Fact]
    public async Task Demo_starts_its_own_azurite_and_worker_and_saves_a_png()
    {
        string cache = Directory.CreateTempSubdirectory("lcm-demo-cache-").FullName;
        string folder = Path.Combine(cache, "out");
        try
        {
            // From the repository root, where package.json pins Azurite; the built-in model goes to the temp cache.
            // A developer's own queue name must not strand the demo's job on a queue its worker does not serve.
            var demo = await CliProcess.RunAsync(["demo", "--output", folder, "--prompt", "a demo"], new Dictionary<string, string>
            {
                ["LCM_CACHE_DIR"] = cache,
                ["LCM_JOBS_QUEUE"] = "my-own-jobs",
            }, RepositoryRoot(), output, TimeSpan.FromMinutes(2));

            Assert.True(demo.ExitCode == 0, demo.Stderr);
            Assert.Contains("image URL: http://127.0.0.1:", demo.Stdout);
            string png = Assert.Single(Directory.GetFiles(folder, "*.png"));
            ServiceStorage.AssertImage(await File.ReadAllBytesAsync(png), "PNG", 512, 512);
            Assert.True(Directory.Exists(Path.Combine(cache, global::Lcm.SyntheticModels.BuiltInTestModel.FolderName)));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    private Task<CliProcess> Lcm(string[] args, StorageNames names) =>
        CliProcess.RunAsync([.. args, "--connection", fixture.ConnectionString], new Dictionary<string, string>
        {
            ["LCM_JOBS_QUEUE"] = names.JobsQueue,
            ["LCM_RESULTS_QUEUE"] = names.ResultsQueue!,
        }, output: output);

    /// <summary>The folder whose package.json pins Azurite, above the test's output folder.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string package = Path.Combine(dir.FullName, "package.json");
            if (File.Exists(package) && File.ReadAllText(package).Contains("\"azurite\"", StringComparison.Ordinal)) return dir.FullName;
        }
        throw new InvalidOperationException($"no package.json with Azurite above {AppContext.BaseDirectory}");
    }
}
