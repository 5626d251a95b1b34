using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Lcm.Engine.Loaders;

/// <summary>
/// Folders of a cache directory that appear whole or not at all. An entry is written to a temporary
/// folder with a manifest of its files' lengths and renamed into place, so two processes writing at
/// once never see half an entry; an entry whose manifest or file lengths do not match is deleted and
/// rebuilt, never used. With <c>maxBytes</c> the entries are bounded by size: the least recently used
/// go first (a process that still maps a deleted entry's files keeps them until it unmaps them).
/// </summary>
public sealed class CacheEntries
{
    private const int FormatVersion = 2;
    private const string ManifestFile = "manifest.json";
    // A temporary or doomed folder this old was left by a process that crashed: no writer is that slow.
    private static readonly TimeSpan LeftoverAge = TimeSpan.FromHours(1);
    private readonly ILogger logger;
    private readonly long? _maxBytes;

    public CacheEntries(string directory, ILogger logger, long? maxBytes = null)
    {
        (Directory, this.logger, _maxBytes) = (directory, logger, maxBytes);
        RemoveLeftovers();
    }

    public string Directory { get; }

    /// <summary>The entry folder for a key, first written by <paramref name="write"/> (into an empty folder) when missing or invalid.</summary>
    public string GetOrCreate(string key, Action<string> write)
    {
        string entry = TryGet(key) ?? Create(key, write);
        System.IO.Directory.SetLastWriteTimeUtc(entry, DateTime.UtcNow);
        Trim(keep: entry);
        return entry;
    }

    /// <summary>Deletes the least recently used entries, never <paramref name="keep"/>, until the rest fit the size bound.</summary>
    private void Trim(string keep)
    {
        if (_maxBytes is not long max) return;
        var entries = new DirectoryInfo(Directory).GetDirectories().Where(d => !d.Name.Contains(".tmp-") && !d.Name.Contains(".old-"))
            .Select(d => (Folder: d, Bytes: d.GetFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)))
            .OrderBy(e => e.Folder.LastWriteTimeUtc).ToList();
        long total = entries.Sum(e => e.Bytes);
        foreach (var (folder, bytes) in entries)
        {
            if (total <= max) break;
            if (folder.FullName == Path.GetFullPath(keep)) continue;
            logger.LogInformation("Cache entry {Entry} ({Mb:F0} MB) evicted: the cache is over {MaxMb} MB", folder.FullName, bytes / 1048576.0, max / 1048576);
            Remove(folder.FullName);
            total -= bytes;
        }
    }

    private void RemoveLeftovers()
    {
        if (!System.IO.Directory.Exists(Directory)) return;
        foreach (var folder in new DirectoryInfo(Directory).GetDirectories())
            if ((folder.Name.Contains(".tmp-") || folder.Name.Contains(".old-")) && DateTime.UtcNow - folder.LastWriteTimeUtc > LeftoverAge)
            {
                logger.LogInformation("Removing {Folder}, left by a process that stopped while writing the cache", folder.FullName);
                try
                {
                    System.IO.Directory.Delete(folder.FullName, recursive: true);
                }
                catch (IOException)
                {
                }
            }
    }

    /// <summary>The entry folder for a key when it is complete; a stale or incomplete one is deleted.</summary>
    public string? TryGet(string key)
    {
        string entry = Path.Combine(Directory, key);
        if (IsValid(entry, key)) return entry;
        if (System.IO.Directory.Exists(entry))
        {
            logger.LogWarning("Cache entry {Entry} is stale or incomplete; rebuilding it", entry);
            Remove(entry);
        }
        return null;
    }

    private string Create(string key, Action<string> write)
    {
        string entry = Path.Combine(Directory, key);
        System.IO.Directory.CreateDirectory(Directory);
        string temp = $"{entry}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        System.IO.Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            var files = new DirectoryInfo(temp).GetFiles("*", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(temp, f.FullName), f => f.Length, StringComparer.Ordinal);
            File.WriteAllBytes(Path.Combine(temp, ManifestFile), JsonSerializer.SerializeToUtf8Bytes(new Manifest(FormatVersion, key, files)));
            try
            {
                System.IO.Directory.Move(temp, entry);
            }
            catch (IOException) when (System.IO.Directory.Exists(entry))
            {
                // Another process finished first: its entry is as good as ours.
                Remove(temp);
            }
            return entry;
        }
        catch
        {
            Remove(temp);
            throw;
        }
    }

    /// <summary>Deletes an entry that turned out bad (a corrupt file of the right length), so the next use rebuilds it.</summary>
    public static void Invalidate(string entry) => Remove(entry);

    private static bool IsValid(string entry, string key)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllBytes(Path.Combine(entry, ManifestFile)));
            return manifest is not null && manifest.FormatVersion == FormatVersion && manifest.Key == key && manifest.Files is not null
                && manifest.Files.All(f => new FileInfo(Path.Combine(entry, f.Key)) is { Exists: true } file && file.Length == f.Value);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Remove(string folder)
    {
        try
        {
            // Rename first so no reader finds a half-deleted entry under the real name.
            string doomed = $"{folder}.old-{Guid.NewGuid():N}";
            System.IO.Directory.Move(folder, doomed);
            System.IO.Directory.Delete(doomed, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private sealed record Manifest(int FormatVersion, string Key, Dictionary<string, long>? Files);
}
