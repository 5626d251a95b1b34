using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Core.Model;

/// <summary>
/// Graphs already optimised by ONNX Runtime for this ORT version and execution provider, saved as
/// ONNX with their weights in one external data file. Loading one skips graph optimisation, and with
/// pre-packing off ONNX Runtime maps the weights from the file instead of copying them: processes on
/// one machine share the pages, and a cold start reads no more than it touches.
///
/// An entry is a folder named by the key (source graph hash, sizes and times of the files beside it,
/// ORT version, provider). It is written to a temporary folder and renamed into place, so two
/// processes preparing at once never see half an entry; an entry whose manifest or file lengths do
/// not match is deleted and rebuilt, never loaded.
/// </summary>
public sealed class PreparedModelCache(string directory, ILogger logger)
{
    private const int FormatVersion = 1;
    private const string GraphFile = "model.onnx";
    private const string DataFile = "model.onnx.data";
    private const string ManifestFile = "manifest.json";

    public string Directory { get; } = directory;

    /// <summary>The prepared graph for a source graph, preparing it first when missing or invalid.</summary>
    public string GetOrPrepare(string sourcePath, string provider, Func<SessionOptions> optionsForPreparing)
    {
        string key = Key(sourcePath, provider);
        string entry = Path.Combine(Directory, key);
        if (IsValid(entry, key)) return Path.Combine(entry, GraphFile);
        if (System.IO.Directory.Exists(entry))
        {
            logger.LogWarning("Prepared model {Entry} is stale or incomplete; rebuilding it", entry);
            Remove(entry);
        }
        Prepare(sourcePath, entry, key, optionsForPreparing);
        return Path.Combine(entry, GraphFile);
    }

    /// <summary>Deletes an entry that loaded badly (a corrupt file of the right length), so the next start rebuilds it.</summary>
    public void Invalidate(string preparedGraphPath) => Remove(Path.GetDirectoryName(preparedGraphPath)!);

    private void Prepare(string sourcePath, string entry, string key, Func<SessionOptions> optionsForPreparing)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string temp = $"{entry}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        System.IO.Directory.CreateDirectory(temp);
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using (var options = optionsForPreparing())
            {
                options.OptimizedModelFilePath = Path.Combine(temp, GraphFile);
                options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", DataFile);
                // Every weight worth mapping goes to the data file; tiny ones stay in the graph.
                options.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
                using var session = new InferenceSession(sourcePath, options);
            }
            string data = Path.Combine(temp, DataFile);
            var manifest = new Manifest(FormatVersion, key, new FileInfo(Path.Combine(temp, GraphFile)).Length,
                File.Exists(data) ? new FileInfo(data).Length : 0);
            File.WriteAllBytes(Path.Combine(temp, ManifestFile), JsonSerializer.SerializeToUtf8Bytes(manifest));
            try
            {
                System.IO.Directory.Move(temp, entry);
                logger.LogInformation("Prepared {Source} in {Ms:F0} ms into {Entry}", sourcePath, started.Elapsed.TotalMilliseconds, entry);
            }
            catch (IOException) when (System.IO.Directory.Exists(entry))
            {
                // Another process finished first: its entry is as good as ours.
                Remove(temp);
            }
        }
        catch
        {
            Remove(temp);
            throw;
        }
    }

    private static bool IsValid(string entry, string key)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllBytes(Path.Combine(entry, ManifestFile)));
            if (manifest is null || manifest.FormatVersion != FormatVersion || manifest.Key != key) return false;
            string data = Path.Combine(entry, DataFile);
            return new FileInfo(Path.Combine(entry, GraphFile)).Length == manifest.GraphBytes
                && (File.Exists(data) ? new FileInfo(data).Length : 0) == manifest.DataBytes;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Hashes the graph file (small: weights of real exports live beside it) and the names, sizes and
    /// times of the files beside it, instead of hashing gigabytes of weights on every start.
    /// </summary>
    private static string Key(string sourcePath, string provider)
    {
        var text = new StringBuilder();
        text.Append($"v{FormatVersion}|ort {OrtEnv.Instance().GetVersionString()}|{provider}|{Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(sourcePath)))}");
        foreach (var file in new DirectoryInfo(Path.GetDirectoryName(sourcePath)!).GetFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
            if (file.FullName != Path.GetFullPath(sourcePath)) text.Append($"|{file.Name}:{file.Length}:{file.LastWriteTimeUtc.Ticks}");
        string graph = Path.GetFileName(Path.GetDirectoryName(sourcePath)!);
        return $"{graph}-{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..24].ToLowerInvariant()}";
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

    private sealed record Manifest(int FormatVersion, string Key, long GraphBytes, long DataBytes);
}
