using System.Collections.Concurrent;
using Lcm.Core.Model;
using Microsoft.Extensions.Logging;

namespace Lcm.Core.Generation;

/// <summary>One engine per model folder per process, created on first use and shared by every request.</summary>
public sealed class EngineCache(EngineOptions options, ILogger logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<LcmEngine>> _engines = new();

    public LcmEngine Get(string modelPath)
    {
        string key = Path.GetFullPath(modelPath);
        var lazy = _engines.GetOrAdd(key, k => new Lazy<LcmEngine>(() => LcmEngine.Load(k, options, logger)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // A failed load is not cached: the folder may be fixed or finish copying.
            _engines.TryRemove(new KeyValuePair<string, Lazy<LcmEngine>>(key, lazy));
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var lazy in _engines.Values.Where(l => l.IsValueCreated)) lazy.Value.Dispose();
        _engines.Clear();
    }
}
