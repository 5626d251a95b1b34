namespace Lcm.Engine.Loaders.Lora;

/// <summary>
/// Kohya's SGM UNet names (Stability's own layout, which kohya's SDXL trainer uses: <c>input_blocks_4_1_...</c>,
/// <c>middle_block_1_...</c>, <c>output_blocks_2_2_...</c>, with LDM names inside resnets) turned into
/// the diffusers module paths the graphs are scoped by, as diffusers loads such files
/// (<c>_maybe_map_sgm_blocks_to_diffusers</c>, then <c>_convert_unet_lora_key</c>): input block i is
/// down block (i - 1) / (layers_per_block + 1), layer (i - 1) % (layers_per_block + 1); output block i is
/// up block i / (layers_per_block + 1), layer i % (layers_per_block + 1); the inner index 0, 1, 2 is
/// resnets, attentions, upsamplers (a downsampler's <c>op</c> is its conv); middle block 0, 1, 2 is
/// resnets.0, attentions.0, resnets.1. Only files whose every key is a kohya key are mapped, and a file
/// with both SGM and diffusers block names keeps only the diffusers ones, as in diffusers.
/// </summary>
internal static class SgmBlockNames
{
    private static readonly string[] SgmBlocks = ["input_blocks", "middle_block", "output_blocks"];
    private static readonly string[] DiffusersBlocks = ["down_blocks", "mid_block", "up_blocks"];
    private static readonly string[] InnerBlocks = ["resnets", "attentions", "upsamplers"];

    // Inside an SGM resnet: in_layers = [norm, SiLU, conv], out_layers = [norm, SiLU, dropout, conv], emb_layers = [SiLU, linear].
    private static readonly Dictionary<string, string> ResnetParts = new(StringComparer.Ordinal)
    {
        ["in_layers_2"] = "conv1",
        ["out_layers_3"] = "conv2",
        ["emb_layers_1"] = "time_emb_proj",
        ["skip_connection"] = "conv_shortcut",
    };

    /// <summary>The modules of one file with SGM UNet names mapped; the file's modules as they are when it uses none.</summary>
    public static IReadOnlyList<LoraModule> ToDiffusers(IReadOnlyList<LoraModule> modules, bool allKohya, int layersPerBlock, string path)
    {
        bool sgm = modules.Any(m => SgmBlocks.Any(m.Module.Contains));
        if (!allKohya || !sgm) return modules;
        if (modules.Any(m => !SgmBlocks.Any(m.Module.Contains) && DiffusersBlocks.Any(m.Module.Contains)))
            return modules.Where(m => !SgmBlocks.Any(m.Module.Contains)).ToArray();

        var mapped = new List<LoraModule>();
        var unmapped = new List<string>();
        foreach (var module in modules)
        {
            if (module.Component != LoraComponent.Unet)
                mapped.Add(module);
            else if (Map(module.Module, layersPerBlock) is { } name)
                mapped.Add(module with { Module = name, SgmName = module.Module });
            else
                unmapped.Add(module.Module);
        }
        if (unmapped.Count > 0)
            throw new LoraException(LoraException.Mismatch,
                $"LoRA file '{path}' names its UNet modules by SGM blocks (input_blocks, middle_block, output_blocks), but {unmapped.Count} UNet module(s) are not in a block that maps to diffusers' down_blocks, mid_block or up_blocks (diffusers refuses them too): {LoraText.List(unmapped)}");
        return mapped;
    }

    /// <summary>The flat diffusers module name of a flat SGM one (<c>input_blocks_4_1_proj_in</c> is <c>down_blocks_1_attentions_0_proj_in</c> at two layers per block); null if it has none.</summary>
    public static string? Map(string module, int layersPerBlock)
    {
        string[] parts = module.Split('_');
        if (parts.Length < 4 || !int.TryParse(parts[2], out int id) || id < 0) return null;
        int perBlock = layersPerBlock + 1;
        switch ($"{parts[0]}_{parts[1]}")
        {
            // input_blocks_0 is conv_in, in no down block.
            case "input_blocks" when id >= 1 && parts.Length >= 5 && Inner(parts[3]) is { } inner:
                return parts is [_, _, _, _, "op"]
                    ? Join("down_blocks", (id - 1) / perBlock, "downsamplers_0", "conv")
                    : Join("down_blocks", (id - 1) / perBlock, $"{inner}_{(id - 1) % perBlock}", Rest(inner, parts[4..]));
            case "middle_block" when id <= 2:
                string part = id switch { 0 => "resnets_0", 1 => "attentions_0", _ => "resnets_1" };
                return $"mid_block_{part}_{Rest(part, parts[3..])}";
            case "output_blocks" when parts.Length >= 5 && Inner(parts[3]) is { } inner:
                int layer = inner == "upsamplers" ? 0 : id % perBlock;
                return Join("up_blocks", id / perBlock, $"{inner}_{layer}", Rest(inner, parts[4..]));
            default:
                return null;
        }
    }

    private static string? Inner(string index) => int.TryParse(index, out int i) && i is >= 0 and < 3 ? InnerBlocks[i] : null;

    private static string Join(string blocks, int block, string inner, string rest) => $"{blocks}_{block}_{inner}_{rest}";

    private static string Rest(string inner, string[] parts)
    {
        string rest = string.Join('_', parts);
        return inner.StartsWith("resnets", StringComparison.Ordinal) && ResnetParts.TryGetValue(rest, out string? renamed) ? renamed : rest;
    }
}
