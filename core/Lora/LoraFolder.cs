using System.Text.RegularExpressions;

namespace Lcm.Core.Lora;

/// <summary>
/// The configured folder of LoRA files (<c>LCM_LORA_PATH</c>). A request names a LoRA; the file is
/// <c>NAME.safetensors</c> in this folder and nowhere else: names are never paths or URLs.
/// </summary>
public sealed partial class LoraFolder(string? directory)
{
    public const string Extension = ".safetensors";

    /// <summary>Null when no folder is configured: every LoRA is then unknown.</summary>
    public string? Directory { get; } = directory is null ? null : Path.GetFullPath(directory);

    /// <summary>1-100 of A-Z, a-z, 0-9, '_', '-' and '.', starting with a letter or digit: no separators, no "..".</summary>
    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name) && !name.Contains("..");

    /// <summary>The file of each LoRA, or <see cref="LoraException"/> (<c>unknown_lora</c>) for the first that is not in the folder.</summary>
    public IReadOnlyList<LoraFile> Resolve(IReadOnlyList<LoraReference> loras) => loras.Select(Resolve).ToArray();

    private LoraFile Resolve(LoraReference lora)
    {
        if (Directory is null)
            throw new LoraException(LoraException.Unknown, $"lora '{lora.Name}' is unknown: this worker has no LoRA folder (LCM_LORA_PATH)");
        string path = Path.Combine(Directory, lora.Name + Extension);
        if (!IsValidName(lora.Name) || !File.Exists(path))
            throw new LoraException(LoraException.Unknown, $"lora '{lora.Name}' is unknown: there is no '{lora.Name}{Extension}' in the LoRA folder; available: {Available()}");
        return new LoraFile(lora.Name, path, lora.Scale);
    }

    /// <summary>The names of the LoRAs in the folder, in ordinal order; none when there is no folder.</summary>
    public IReadOnlyList<string> Names() =>
        System.IO.Directory.Exists(Directory)
            ? System.IO.Directory.EnumerateFiles(Directory, "*" + Extension).Select(f => Path.GetFileNameWithoutExtension(f)!)
                .Where(IsValidName).Order(StringComparer.Ordinal).ToArray()
            : [];

    private string Available()
    {
        if (!System.IO.Directory.Exists(Directory)) return $"none (the folder '{Directory}' does not exist)";
        var names = Names();
        return names.Count == 0 ? "none" : LoraText.List(names, 20);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    private static partial Regex NamePattern();
}
