using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// A worker in this process: the real <see cref="QueueWorker"/> and <see cref="JobProcessor"/> on
/// Azurite, over the fixture's engine or another generator, or the whole <see cref="LocalWorker"/>
/// (which loads its own engine). Stopping it cancels its token, as Ctrl+C does to <c>lcm worker</c>.
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

    public static async Task<TestWorker> StartAsync(AzuriteFixture fixture, StorageNames names, ITestOutputHelper? output,
        IImageGenerator? generator = null, QueueSettings? queue = null, JobProcessorOptions? processor = null,
        TimeSpan? lease = null, string name = "worker")
    {
        await StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        var worker = new TestWorker(new TestLog(name, output));
        var jobs = JobProcessor.Create(fixture.Account, names, generator ?? fixture.Engine, worker.Log, processor ?? FastProcessor);
        var queueWorker = new QueueWorker(jobs, new JobQueues(fixture.Account.Queues, names), queue ?? FastQueue,
            lease ?? TimeSpan.FromSeconds(30), worker.Log);
        worker._run = Task.Run(() => queueWorker.RunAsync(worker._stop.Token));
        return worker;
    }

    /// <summary>Runs <see cref="LocalWorker.RunAsync"/> (what <c>lcm worker</c> runs) and waits until it is ready.</summary>
    public static async Task<TestWorker> StartLocalAsync(AzuriteFixture fixture, WorkerSettings settings, ITestOutputHelper? output,
        string? modelPath = null, string name = "worker")
    {
        var worker = new TestWorker(new TestLog(name, output));
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        worker._run = Task.Run(() => LocalWorker.RunAsync(fixture.Account, settings, modelPath ?? fixture.ModelPath, worker.Log,
            worker._stop.Token, ready.SetResult));
        await Task.WhenAny(ready.Task, worker._run).WaitAsync(TimeSpan.FromSeconds(60));
        if (worker._run.IsCompleted) await worker._run; // it failed while starting: show why
        return worker;
    }

    /// <summary>Settings for <see cref="LocalWorker"/> on the given queues, on the CPU, with fast polling.</summary>
    public static WorkerSettings Settings(StorageNames names) => new()
    {
        Names = names,
        Engine = AzuriteFixture.EngineOptions,
        Queue = FastQueue,
        Processor = FastProcessor,
        MessageLease = TimeSpan.FromSeconds(30),
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
