using Lcm.Cli;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Lcm.SyntheticModels;

namespace Lcm.Tests.Service;

/// <summary>
/// The service tests share one Azurite and one model; they run one after another (one collection),
/// each on queues of its own, so they neither see each other's messages nor fight for the CPU.
/// xunit takes a collection's definition only from the test assembly itself, so each assembly that
/// runs service tests declares one (<c>[CollectionDefinition(ServiceCollection.Name)]</c>) over this fixture.
/// </summary>
public static class ServiceCollection
{
    public const string Name = "Service tests on Azurite";
}

/// <summary>
/// One Azurite (in memory, free ports) for the collection, one small fp32 test model folder in a
/// temp directory, and an engine on it that in-process workers may share.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private Azurite? _azurite;
    private LcmEngine? _engine;

    /// <summary>
    /// The tests run on the CPU, where a machine without CUDA does not log a fallback each time, with
    /// <see cref="SlowJob.MemoryBudgetMb"/>: the test model's configs describe SD 1.5, whose estimate
    /// is far above what its tiny graphs take.
    /// </summary>
    public static readonly EngineOptions EngineOptions = new() { ExecutionProvider = ExecutionProvider.Cpu, MemoryBudgetBytes = SlowJob.MemoryBudgetMb * 1024L * 1024 };

    public string ConnectionString => (_azurite ?? throw new InvalidOperationException("Azurite is not started")).ConnectionString;
    public StorageAccount Account { get; private set; } = null!;
    public string ModelPath { get; private set; } = null!;
    public LcmEngine Engine => _engine ?? throw new InvalidOperationException("the engine is not loaded");
    public StatusStore Statuses { get; private set; } = null!;
    public ImageStore Images { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ModelPath = Directory.CreateTempSubdirectory("lcm-service-model-").FullName;
        TestModelMaker.Write(ModelPath, new TestModelOptions());
        _azurite = await Azurite.StartAsync();
        Account = StorageAccount.FromConnectionString(_azurite.ConnectionString);
        // The containers are shared by every test; the queues are each test's own.
        await StorageSetup.EnsureCreatedAsync(Account, NewNames());
        Statuses = new StatusStore(Account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer));
        Images = new ImageStore(Account.Blobs.GetBlobContainerClient(StorageNames.ImagesContainer));
        _engine = LcmEngine.Load(ModelPath, EngineOptions);
    }

    public Task DisposeAsync()
    {
        _engine?.Dispose();
        _azurite?.Dispose();
        try
        {
            Directory.Delete(ModelPath, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }

    /// <summary>Queue names no other test uses: jobs "t-xxxxxxxx" (poison "t-xxxxxxxx-poison"), results "r-xxxxxxxx".</summary>
    public StorageNames NewNames()
    {
        string unique = Guid.NewGuid().ToString("N")[..8];
        return new StorageNames { JobsQueue = $"t-{unique}", ResultsQueue = $"r-{unique}" };
    }
}
