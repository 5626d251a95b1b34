using Lcm.Engine.Loaders;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.SyntheticModels;

/// <summary>
/// The small self-made model used when no model is configured, so every command works on a fresh
/// machine. It makes no meaningful pictures; a notice says so and where to get a real model.
/// </summary>
public static class BuiltInTestModel
{
    public const string Notice =
        "Using the built-in test model (it makes no meaningful pictures). For real images pass --model or set LCM_MODEL_PATH " +
        "to an LCM ONNX export, e.g. `optimum-cli export onnx --model SimianLuo/LCM_Dreamshaper_v7 lcm-onnx/` (see README).";

    /// <summary>The folder under the cache; a new name whenever the maker writes other files.</summary>
    public const string FolderName = "test-model-v3";

    /// <summary>Returns the model's folder, writing it first if missing or incomplete. Safe when several processes start at once.</summary>
    public static string EnsureCreated(string? cacheDirectory = null) =>
        new CacheEntries(cacheDirectory ?? CacheDirectory.Resolve(), NullLogger.Instance)
            .GetOrCreate(FolderName, folder => TestModelMaker.Write(folder, new TestModelOptions()));
}
