using System.Globalization;
using Lcm.Contracts;
using Lcm.Engine.Loaders.Lora;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary>
/// <c>--lora NAME[:SCALE]</c> on the local commands: a name in LCM_LORA_PATH, as jobs use, or (the
/// local user's own files) a path to a .safetensors file, whose file name is then its name.
/// </summary>
internal static class CliLoras
{
    public static IReadOnlyList<LoraFile> Resolve(IReadOnlyList<string> arguments)
    {
        var parsed = arguments.Select(Parse).ToArray();
        var folder = new LoraFolder(LoraSettings.FromEnvironment(Environment.GetEnvironmentVariable).Folder);
        return parsed.Select(p => p.Name.EndsWith(LoraFolder.Extension, StringComparison.OrdinalIgnoreCase) || p.Name.Contains(Path.DirectorySeparatorChar)
            ? FromPath(p.Name, p.Scale)
            : folder.Resolve([new LoraReference(p.Name, p.Scale)])[0]).ToArray();
    }

    /// <summary>NAME or NAME:SCALE; a colon followed by something other than a number belongs to the name (a Windows path).</summary>
    public static (string Name, double Scale) Parse(string argument)
    {
        int colon = argument.LastIndexOf(':');
        if (colon > 0 && double.TryParse(argument[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double scale))
            return (argument[..colon], scale);
        if (argument.Length == 0) throw new UsageException("--lora needs a NAME[:SCALE]");
        return (argument, 1.0);
    }

    private static LoraFile FromPath(string path, double scale)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new UsageException($"--lora: no file '{full}'");
        string name = Path.GetFileNameWithoutExtension(full);
        if (!Names.IsValidLoraName(name))
            throw new UsageException($"--lora: the file name '{name}' must be 1-100 of A-Z, a-z, 0-9, '_', '-' and '.'; rename the file");
        return new LoraFile(name, full, scale);
    }
}
