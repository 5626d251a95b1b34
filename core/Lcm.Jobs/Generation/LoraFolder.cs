using Lcm.Contracts;
using Lcm.Engine.Loaders.Lora;

namespace Lcm.Jobs;

/// <summary>
/// The configured folder of LoRA files (<c>LCM_LORA_PATH</c>). A request names a LoRA; the file is
/// <c>NAME.safetensors</c> in this folder and nowhere else: names are never paths or URLs.
/// </summary>
public sealed class LoraFolder(string? directory)
{
    public const string Extension = ".safetensors";

    /// <summary>Null when no folder is configured: every LoRA is then unknown.</summary>
    public string? Directory { get; } = directory is null ? null : Path.GetFullPath(directory);

    /// <summary>The file of each LoRA, or <see cref="LoraException"/> (<c>unknown_lora</c>) for the first that is not in the folder.</summary>
    public IReadOnlyList<LoraFile> Resolve(IReadOnlyList<LoraReference> loras) => loras.Select(Resolve).ToArray();

    private LoraFile Resolve(LoraReference lora)
    {
        if (Directory is null)
            throw new LoraException(LoraException.Unknown, $"lora '{lora.Name}' is unknown: this worker has no LoRA folder (LCM_LORA_PATH)");
        string path = Path.Combine(Directory, lora.Name + Extension);
        if (!Names.IsValidLoraName(lora.Name) || !File.Exists(path))
            throw new LoraException(LoraException.Unknown, $"lora '{lora.Name}' is unknown: there is no '{lora.Name}{Extension}' in the LoRA folder; available: {Available()}");
        return new LoraFile(lora.Name, path, lora.Scale);
    }

    private IReadOnlyList<string> LoraNames() =>
        System.IO.Directory.Exists(Directory)
            ? System.IO.Directory.EnumerateFiles(Directory, "*" + Extension).Select(f => Path.GetFileNameWithoutExtension(f)!)
                .Where(Names.IsValidLoraName).Order(StringComparer.Ordinal).ToArray()
            : [];

    private string Available()
    {
        if (!System.IO.Directory.Exists(Directory)) return $"none (the folder '{Directory}' does not exist)";
        var names = LoraNames();
        return names.Count == 0 ? "none" : LoraText.List(names, 20);
    }
}
