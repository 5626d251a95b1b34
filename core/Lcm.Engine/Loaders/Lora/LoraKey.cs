namespace Lcm.Engine.Loaders.Lora;

/// <summary>Which graph of the model folder a LoRA module patches.</summary>
public enum LoraComponent
{
    Unet,
    TextEncoder,

    /// <summary>SDXL's second text encoder (OpenCLIP bigG), <c>text_encoder_2/</c>.</summary>
    TextEncoder2,
}

/// <summary>The three tensors a LoRA module can have: W' = W + scale * (alpha / rank) * up @ down.</summary>
public enum LoraPart
{
    Down,
    Up,
    Alpha,
}

/// <summary>
/// One tensor name of a LoRA file, parsed. Modules are named by their diffusers module path with
/// every '.' turned into '_' (<c>down_blocks_0_attentions_0_proj_in</c>), the form kohya files use:
/// the PEFT form's dotted path flattens to the same name, so both formats meet the graph in one way.
/// <see cref="Kohya"/> says which form the name had: only all-kohya files can use SGM block names
/// (<see cref="SgmBlockNames"/>), as in diffusers.
/// </summary>
public readonly record struct LoraKey(LoraComponent Component, string Module, LoraPart Part, bool Kohya)
{
    private static readonly (string Prefix, LoraComponent Component, bool Dotted)[] Prefixes =
    [
        ("lora_unet_", LoraComponent.Unet, false),
        ("lora_te_", LoraComponent.TextEncoder, false),
        // SDXL's kohya names: te1 is the first text encoder (as lora_te_), te2 the second.
        ("lora_te1_", LoraComponent.TextEncoder, false),
        ("lora_te2_", LoraComponent.TextEncoder2, false),
        ("unet.", LoraComponent.Unet, true),
        ("text_encoder.", LoraComponent.TextEncoder, true),
        ("text_encoder_2.", LoraComponent.TextEncoder2, true),
    ];

    private static readonly (string Suffix, LoraPart Part)[] KohyaSuffixes =
    [
        (".lora_down.weight", LoraPart.Down),
        (".lora_up.weight", LoraPart.Up),
        (".alpha", LoraPart.Alpha),
    ];

    private static readonly (string Suffix, LoraPart Part)[] PeftSuffixes =
    [
        (".lora_A.weight", LoraPart.Down),
        (".lora_B.weight", LoraPart.Up),
        // diffusers' older LoRACompatibleLinear/Conv form.
        (".lora.down.weight", LoraPart.Down),
        (".lora.up.weight", LoraPart.Up),
        (".alpha", LoraPart.Alpha),
    ];

    /// <summary>
    /// Kohya (<c>lora_unet_&lt;module&gt;.lora_down.weight</c>, <c>.lora_up.weight</c>, <c>.alpha</c>; <c>lora_te_</c>
    /// or <c>lora_te1_</c> for the text encoder, <c>lora_te2_</c> for SDXL's second) or diffusers/PEFT
    /// (<c>unet.&lt;module&gt;.lora_A.weight</c>, <c>.lora_B.weight</c>, or <c>.lora.down.weight</c>/<c>.lora.up.weight</c>;
    /// <c>text_encoder.</c>, <c>text_encoder_2.</c>). Null for any other name.
    /// </summary>
    public static LoraKey? Parse(string name)
    {
        foreach (var (prefix, component, dotted) in Prefixes)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            foreach (var (suffix, part) in dotted ? PeftSuffixes : KohyaSuffixes)
            {
                if (!name.EndsWith(suffix, StringComparison.Ordinal) || name.Length <= prefix.Length + suffix.Length) continue;
                string module = name[prefix.Length..^suffix.Length];
                return new LoraKey(component, dotted ? Flatten(module) : module, part, Kohya: !dotted);
            }
        }
        return null;
    }

    /// <summary>A dotted (or slash-separated) module path in the flat form keys are matched by.</summary>
    public static string Flatten(string modulePath) => modulePath.Replace('.', '_').Replace('/', '_');
}
