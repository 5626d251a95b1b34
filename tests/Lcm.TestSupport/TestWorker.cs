using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// A worker in this process, composed as <c>lcm worker</c> composes it (<see cref="JobsServices.AddLcmWorker"/>)
/// on Azurite: over the fixture's engine or another generator, or with an engine of its own. Stopping
/// it cancels its token, as Ctrl+C does to <c>lcm worker</c>.
/// </summary>
public sealed class TestWorker : IAsyncDisposable
{
    /// <summary>Fast polling and an immediate retry, so tests wait little; the host's other defaults otherwise.</summary>
    public static readonly QueueSettings FastQueue = new()
    {
        BatchSize = 4,
        NewBatchThreshold = 2,
        MaxDequeueCount = 5,
        VisibilityTimeout = TimeSpan.Zero,
        MaxPollingInterval = TimeSpan.FromMilliseconds(200),
    };

    private readonly CancellationTokenSource _stop = new();
    private Task _run = Task.CompletedTask;

    private TestWorker(TestLog log) => Log = log;

    public TestLog Log { get; }

    /// <summary>Whether the worker is still serving (it stops only when told to, or on a bug).</summary>
    public bool IsRunning => !_run.IsCompleted;

    /// <summary>
    /// A worker on the fixture's engine (loaded once for all tests), or on <paramref name="generator"/> (a double
    /// or another engine). Batching is off, so the queue settings are used as given and each job runs alone.
    /// </summary>
    public static Task<TestWorker> StartAsync(AzuriteFixture fixture, StorageNames names, ITestOutputHelper? output,
        IImageGenerator? generator = null, QueueSettings? queue = null, JobProcessorOptions? processor = null,
        TimeSpan? lease = null, string name = "worker", TimeSpan? shutdownGrace = null)
    {
        var settings = Settings(names) with
        {
            Queue = queue ?? FastQueue,
            Processor = processor ?? FastProcessor,
            MessageLease = lease ?? TimeSpan.FromSeconds(30),
            ShutdownGrace = shutdownGrace ?? TimeSpan.Zero,
            Batching = new BatchingOptions { MaxImages = 1 },
        };
        return StartAsync(fixture, settings, fixture.ModelPath, output, name, services =>
        {
            services.Replace(ServiceDescriptor.Singleton(typeof(LcmEngine), fixture.Engine));
            if (generator is not null) services.Replace(ServiceDescriptor.Singleton(typeof(IImageGenerator), generator));
        });
    }

    /// <summary>The worker exactly as <c>lcm worker</c> composes it, loading its own engine; waits until it is ready.</summary>
    public static Task<TestWorker> StartLocalAsync(AzuriteFixture fixture, WorkerSettings settings, ITestOutputHelper? output,
        string? modelPath = null, string name = "worker") =>
        StartAsync(fixture, settings, modelPath ?? fixture.ModelPath, output, name, _ => { });

    private static async Task<TestWorker> StartAsync(AzuriteFixture fixture, WorkerSettings settings, string modelPath, ITestOutputHelper? output,
        string name, Action<IServiceCollection> replace)
    {
        var worker = new TestWorker(new TestLog(name, output));
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(worker.Log);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddLcmJobs(settings, modelPath, fixture.Account).AddLcmWorker(ready.SetResult);
        replace(builder.Services);
        var host = builder.Build();
        worker._run = Task.Run(() => host.RunLcmWorkerAsync(worker._stop.Token));
        await Task.WhenAny(ready.Task, worker._run).WaitAsync(TimeSpan.FromSeconds(60));
        if (worker._run.IsCompleted) await worker._run; // it failed while starting: show why
        return worker;
    }

    /// <summary>
    /// Settings for a worker on the given queues, on the CPU, with fast polling. No shutdown grace: a stopped
    /// test worker hands its running jobs back at once (the grace is tested on <c>lcm worker</c> processes).
    /// </summary>
    public static WorkerSettings Settings(StorageNames names) => new()
    {
        Names = names,
        Engine = AzuriteFixture.EngineOptions,
        Queue = FastQueue,
        Processor = FastProcessor,
        MessageLease = TimeSpan.FromSeconds(30),
        ShutdownGrace = TimeSpan.Zero,
    };

    public static readonly JobProcessorOptions FastProcessor = new() { CancelPollInterval = TimeSpan.FromMilliseconds(200) };

    /// <summary>Cancels the worker's token and waits until it has finished or handed back its messages; rethrows what ended it.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception)
        {
            // A test that wanted the worker's failure called StopAsync itself.
        }
        _stop.Dispose();
    }
}

/// <summary>
/// A generator double around the real engine: fails with an <see cref="IOException"/> (what a failing
/// disk or network gives) on the calls chosen, and records the requests it was given. Storage stays real.
/// </summary>
public sealed class FlakyGenerator(IImageGenerator inner, Func<int, bool> failOnCall) : IImageGenerator
{
    public EngineCapabilities Capabilities => inner.Capabilities;

    private int _calls;
    private readonly List<GenerationRequest> _requests = [];

    public IReadOnlyList<GenerationRequest> Requests
    {
        get { lock (_requests) return _requests.ToArray(); }
    }

    public void Validate(GenerationRequest request) => inner.Validate(request);

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        int call = Interlocked.Increment(ref _calls);
        lock (_requests) _requests.Add(request);
        if (failOnCall(call)) throw new IOException($"simulated I/O failure on call {call}");
        return inner.GenerateAsync(request, progress, cancellationToken);
    }
}

/// <summary>A generator double around the real engine that first waits (cancelably), as a long job on a big model would.</summary>
public sealed class DelayedGenerator(IImageGenerator inner, TimeSpan delay) : IImageGenerator
{
    public EngineCapabilities Capabilities => inner.Capabilities;

    public void Validate(GenerationRequest request) => inner.Validate(request);

    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        await Task.Delay(delay, cancellationToken);
        return await inner.GenerateAsync(request, progress, cancellationToken);
    }
}

/// <summary>
/// A generator double around the real engine that holds each job after its steps until the test lets go,
/// so what a running job writes (progress, previews, webhooks) can be checked before it ends, however fast the model.
/// </summary>
public sealed class HeldGenerator(IImageGenerator inner) : IImageGenerator
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public EngineCapabilities Capabilities => inner.Capabilities;

    public void Validate(GenerationRequest request) => inner.Validate(request);

    public void Release() => _released.TrySetResult();

    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        var result = await inner.GenerateAsync(request, progress, cancellationToken);
        await _released.Task.WaitAsync(cancellationToken);
        return result;
    }
}

/// <summary>
/// A job that keeps the small test model busy long enough to be seen <c>running</c> and then killed,
/// canceled or handed back. Measured on 2 cores: the UNet's size knob (TestModelOptions.UnetMegabytes)
/// hardly slows a step (a 4-step 512x512 job takes ~0.2 s even at 400 MB, the weights being read
/// once a step), so the pixels make it slow: two 2048x2048 images in 8 steps run ~1.3 s in a worker
/// (decoding and PNG encoding included), ~2.5 s as `lcm generate`.
/// </summary>
public static class SlowJob
{
    public const int Size = 2048;
    public const int Count = 2;
    /// <summary>
    /// The memory budget of test workers (1 TB): a slow job (two 2048x2048 images) fits the estimate
    /// of the test model's SD 1.5 configs, eight such images do not (BadInputTests).
    /// </summary>
    public const int MemoryBudgetMb = 1024 * 1024;

    public static Lcm.Contracts.JobRequest Request(string prompt, long? seed = 99) => new()
    {
        Prompt = prompt,
        Width = Size,
        Height = Size,
        Steps = 8,
        Count = Count,
        Seed = seed,
    };
}
