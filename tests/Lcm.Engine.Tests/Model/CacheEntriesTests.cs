using Lcm.Engine.Loaders;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Model;

/// <summary>A size-bounded cache folder: least recently used entries go first; crash leftovers are cleaned at start.</summary>
public sealed class CacheEntriesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcm-cache-entries-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static Action<string> Bytes(int count) => folder => File.WriteAllBytes(Path.Combine(folder, "weights.bin"), new byte[count]);

    [Fact]
    public void Entries_over_the_size_bound_are_evicted_least_recently_used_first()
    {
        var cache = new CacheEntries(_directory, NullLogger.Instance, maxBytes: 2_500);
        string first = cache.GetOrCreate("first", Bytes(1_000));
        string second = cache.GetOrCreate("second", Bytes(1_000));
        Directory.SetLastWriteTimeUtc(first, DateTime.UtcNow.AddMinutes(-2));
        Directory.SetLastWriteTimeUtc(second, DateTime.UtcNow.AddMinutes(-1));
        cache.GetOrCreate("first", Bytes(1_000)); // used again: now the most recent

        cache.GetOrCreate("third", Bytes(1_000));

        Assert.True(Directory.Exists(first));
        Assert.False(Directory.Exists(second));
        Assert.NotNull(cache.TryGet("third"));
    }

    [Fact]
    public void Leftovers_of_a_crashed_writer_are_removed_at_start_and_a_live_writers_are_not()
    {
        string stale = Directory.CreateDirectory(Path.Combine(_directory, "entry.tmp-1-dead")).FullName;
        File.WriteAllBytes(Path.Combine(stale, "weights.bin"), new byte[100]);
        Directory.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));
        string live = Directory.CreateDirectory(Path.Combine(_directory, "entry.tmp-2-alive")).FullName;

        _ = new CacheEntries(_directory, NullLogger.Instance);

        Assert.False(Directory.Exists(stale));
        Assert.True(Directory.Exists(live));
    }
}
