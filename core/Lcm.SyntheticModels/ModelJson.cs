using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lcm.SyntheticModels;

internal static class ModelJson
{
    // Relaxed escaping keeps tokens such as "<|endoftext|>" and byte symbols readable, as in real files.
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(string path, object value)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, JsonSerializer.Serialize(value, Options) + "\n");
    }
}
