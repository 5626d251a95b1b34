namespace Lcm.Engine.Loaders.Lora;

/// <summary>
/// The tensors of one LoRA module; <see cref="Alpha"/> is absent in most PEFT files. <see cref="SgmName"/> is the
/// file's own name of a module named by SGM blocks, whose <see cref="Module"/> is the diffusers name it maps to.
/// </summary>
internal sealed record LoraModule(LoraComponent Component, string Module, SafeTensor Down, SafeTensor Up, SafeTensor? Alpha, string? SgmName = null)
{
    public long Rank => Down.Shape[0];
}

/// <summary>
/// A LoRA file read as modules. Every tensor must be part of a module this merger understands;
/// anything else (LoHa, LoKr, DoRA, original-LDM names) is listed, since merging a file partway would
/// give a model that is neither the base nor the LoRA. SGM block names are read as diffusers'
/// (<see cref="SgmBlockNames"/>), which needs the UNet's <c>layers_per_block</c>.
/// </summary>
internal sealed class LoraWeights : IDisposable
{
    private LoraWeights(SafeTensorsFile file, IReadOnlyList<LoraModule> modules) => (File, Modules) = (file, modules);

    public SafeTensorsFile File { get; }
    public IReadOnlyList<LoraModule> Modules { get; }
    public int TensorCount => File.Tensors.Count;

    public static LoraWeights Open(string path, int unetLayersPerBlock)
    {
        var file = SafeTensorsFile.Open(path);
        try
        {
            return new LoraWeights(file, Group(file, unetLayersPerBlock));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The scale factor alpha / rank, where a missing or zero alpha means rank (factor 1).</summary>
    public float AlphaOverRank(LoraModule module)
    {
        if (module.Alpha is not { } alpha) return 1f;
        float[] value = File.ReadFloats(alpha);
        if (value.Length != 1 || !float.IsFinite(value[0]))
            throw new LoraException(LoraException.InvalidFile, $"LoRA file '{File.Path}': '{alpha.Name}' must be one finite number");
        return value[0] == 0 ? 1f : value[0] / module.Rank;
    }

    public void Dispose() => File.Dispose();

    private static IReadOnlyList<LoraModule> Group(SafeTensorsFile file, int unetLayersPerBlock)
    {
        var parts = new Dictionary<(LoraComponent, string), Dictionary<LoraPart, SafeTensor>>();
        var unknown = new List<string>();
        bool allKohya = true;
        foreach (var tensor in file.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            if (LoraKey.Parse(tensor.Name) is not { } key)
            {
                unknown.Add(tensor.Name);
                continue;
            }
            allKohya &= key.Kohya;
            if (!parts.TryGetValue((key.Component, key.Module), out var module)) parts[(key.Component, key.Module)] = module = [];
            // Two names for one part: the kohya and the PEFT form, or lora_A and lora.down, side by side.
            if (!module.TryAdd(key.Part, tensor))
                throw new LoraException(LoraException.InvalidFile, $"LoRA file '{file.Path}' has two {key.Part.ToString().ToLowerInvariant()} tensors for module '{key.Module}': '{module[key.Part].Name}' and '{tensor.Name}'");
        }
        if (unknown.Count > 0)
            throw new LoraException(LoraException.Mismatch,
                $"LoRA file '{file.Path}' has {unknown.Count} tensor(s) that are not kohya or diffusers/PEFT LoRA keys of a UNet or text encoder (SD 1.5 or SDXL): {LoraText.List(unknown)}");

        var modules = new List<LoraModule>();
        foreach (var ((component, name), module) in parts)
        {
            if (!module.TryGetValue(LoraPart.Down, out var down) || !module.TryGetValue(LoraPart.Up, out var up))
                throw new LoraException(LoraException.InvalidFile, $"LoRA file '{file.Path}': module '{name}' needs both a down and an up tensor, found {string.Join(", ", module.Values.Select(t => $"'{t.Name}'"))}");
            module.TryGetValue(LoraPart.Alpha, out var alpha);
            modules.Add(new LoraModule(component, name, down, up, alpha));
        }
        return SgmBlockNames.ToDiffusers(modules, allKohya, unetLayersPerBlock, file.Path);
    }
}

/// <summary>Lists in error messages: the first few names and how many more, so a message stays readable for a file of a thousand keys.</summary>
internal static class LoraText
{
    public static string List(IReadOnlyCollection<string> items, int shown = 10) =>
        string.Join(", ", items.Take(shown).Select(i => $"'{i}'")) + (items.Count > shown ? $" and {items.Count - shown} more" : "");
}
