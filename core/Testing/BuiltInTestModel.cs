namespace Lcm.Core.Testing;

/// <summary>
/// The small self-made model used when no model is configured, so every command works on a fresh
/// machine. It makes no meaningful pictures; a notice says so and where to get a real model.
/// </summary>
public static class BuiltInTestModel
{
    public const string Notice =
        "Using the built-in test model (it makes no meaningful pictures). For real images pass --model or set LCM_MODEL_PATH " +
        "to an LCM ONNX export, e.g. `optimum-cli export onnx --model SimianLuo/LCM_Dreamshaper_v7 lcm-onnx/` (see README).";

    private const string FolderName = "test-model-v1";

    /// <summary>Returns the model's folder, writing it first if missing. Safe when several processes start at once.</summary>
    public static string EnsureCreated(string? cacheDirectory = null)
    {
        string target = Path.Combine(cacheDirectory ?? Model.CacheDirectory.Resolve(), FolderName);
        if (Directory.Exists(target)) return target;
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        string temp = $"{target}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        TestModelMaker.Write(temp, new TestModelOptions());
        try
        {
            // The rename publishes a complete folder at once; a reader never sees half a model.
            Directory.Move(temp, target);
        }
        catch (IOException) when (Directory.Exists(target))
        {
            Directory.Delete(temp, recursive: true);
        }
        return target;
    }
}
