using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Loaders;

/// <summary>
/// Graphs already optimised by ONNX Runtime for this ORT version and execution provider, saved as
/// ONNX with their weights in one external data file. Loading one skips graph optimisation, and with
/// pre-packing off ONNX Runtime maps the weights from the file instead of copying them: processes on
/// one machine share the pages, and a cold start reads no more than it touches.
///
/// An entry is a folder of <see cref="CacheEntries"/> named by the key (source graph fingerprint,
/// ORT version, provider).
/// </summary>
internal sealed class PreparedModelCache(string directory, ILogger logger)
{
    private const int FormatVersion = 1;
    private const string GraphFile = "model.onnx";
    private const string DataFile = "model.onnx.data";
    private const long MaxHashedBytes = 64L << 20;

    private readonly CacheEntries _entries = new(directory, logger);

    public string Directory => _entries.Directory;

    /// <summary>The prepared graph for a source graph, preparing it first when missing or invalid.</summary>
    public string GetOrPrepare(string sourcePath, string provider, Func<SessionOptions> optionsForPreparing)
    {
        string graph = Path.GetFileName(Path.GetDirectoryName(sourcePath)!);
        string key = $"{graph}-{Hash($"v{FormatVersion}|ort {OrtEnv.Instance().GetVersionString()}|{provider}|{Fingerprint(sourcePath)}")}";
        string entry = _entries.GetOrCreate(key, temp => Prepare(sourcePath, temp, optionsForPreparing));
        return Path.Combine(entry, GraphFile);
    }

    /// <summary>Deletes an entry that loaded badly (a corrupt file of the right length), so the next start rebuilds it.</summary>
    public void Invalidate(string preparedGraphPath) => CacheEntries.Invalidate(Path.GetDirectoryName(preparedGraphPath)!);

    /// <summary>
    /// Identifies a source graph by a hash of the graph file and the names, sizes and times of the
    /// files beside it, instead of hashing gigabytes of weights on every start. A graph file that holds
    /// its weights itself (over <see cref="MaxHashedBytes"/>) is identified by its size and time too.
    /// </summary>
    public static string Fingerprint(string sourcePath)
    {
        var source = new FileInfo(sourcePath);
        var text = new StringBuilder(source.Length <= MaxHashedBytes
            ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(sourcePath)))
            : $"{source.Length}:{source.LastWriteTimeUtc.Ticks}");
        foreach (var file in new DirectoryInfo(Path.GetDirectoryName(sourcePath)!).GetFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
            if (file.FullName != Path.GetFullPath(sourcePath)) text.Append($"|{file.Name}:{file.Length}:{file.LastWriteTimeUtc.Ticks}");
        return text.ToString();
    }

    /// <summary>The first 24 hex digits of a SHA-256, lower case: short enough for folder names, long enough never to collide.</summary>
    public static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24].ToLowerInvariant();

    private void Prepare(string sourcePath, string folder, Func<SessionOptions> optionsForPreparing)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var options = optionsForPreparing())
        {
            options.OptimizedModelFilePath = Path.Combine(folder, GraphFile);
            options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", DataFile);
            // Every weight worth mapping goes to the data file; tiny ones stay in the graph.
            options.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
            // ONNX Runtime warns that fully optimised graphs may be hardware-specific: the cache key names the instruction set.
            options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            using var session = new InferenceSession(sourcePath, options);
        }
        logger.LogInformation("Prepared {Source} in {Ms:F0} ms", sourcePath, started.Elapsed.TotalMilliseconds);
    }
}
