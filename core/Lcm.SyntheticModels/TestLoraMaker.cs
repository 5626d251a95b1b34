using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;

namespace Lcm.SyntheticModels;

/// <summary>The key naming of a LoRA file.</summary>
public enum LoraKeyFormat
{
    /// <summary>
    /// <c>lora_unet_&lt;module_with_underscores&gt;.lora_down.weight</c>, <c>.lora_up.weight</c>, <c>.alpha</c>; <c>lora_te_</c>
    /// for the text encoder, or <c>lora_te1_</c> and <c>lora_te2_</c> for SDXL's two (as latent-consistency/lcm-lora-sdxl
    /// and kohya's SDXL trainer write them).
    /// </summary>
    Kohya,

    /// <summary><c>unet.&lt;module.path&gt;.lora_A.weight</c> and <c>.lora_B.weight</c>; <c>text_encoder.</c> and <c>text_encoder_2.</c>; no alpha.</summary>
    Peft,

    /// <summary>Kohya with the UNet in SGM block names (<c>lora_unet_input_blocks_4_1_proj_in</c>), for the SDXL test model.</summary>
    KohyaSgm,
}

/// <summary>Shape and naming of a self-made LoRA for the SD 1.5-style or the SDXL test model.</summary>
public sealed record TestLoraOptions
{
    /// <summary>Whose modules: the SD 1.5-style test model's or the SDXL one's (<see cref="SdxlGraphs.Modules"/>).</summary>
    public ModelFamily Family { get; init; } = ModelFamily.StableDiffusion;
    public LoraKeyFormat Format { get; init; } = LoraKeyFormat.Kohya;
    public int Rank { get; init; } = 4;
    /// <summary>Kohya's alpha (the delta is scaled by alpha / rank); PEFT files carry none.</summary>
    public float Alpha { get; init; } = 2;
    public int Seed { get; init; } = 1;
    /// <summary>F32, F16 or BF16.</summary>
    public string DType { get; init; } = "F32";
    public bool TextEncoder { get; init; } = true;
}

/// <summary>One module of a self-made LoRA, with the values as stored: down [rank, in * k * k], up [out, rank].</summary>
public sealed record TestLoraModule(PatchableModule Target, float[] Down, float[] Up, float AlphaOverRank);

/// <summary>
/// Writes a seeded LoRA for every patchable weight of <see cref="Sd15StyleGraphs"/> or <see cref="SdxlGraphs"/>,
/// in kohya, kohya SGM or PEFT form: conv modules get a [rank, in, k, k] down and a [out, rank, 1, 1] up, as trained LoRAs do.
/// Returns the modules as written, so tests can compute the merge they expect.
/// </summary>
public static class TestLoraMaker
{
    public static IReadOnlyList<TestLoraModule> Write(string path, TestLoraOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Rank, 1);
        var modules = new List<TestLoraModule>();
        var tensors = new List<SafeTensorValues>();
        var targets = options.Family == ModelFamily.StableDiffusionXL ? SdxlGraphs.Modules : Sd15StyleGraphs.Modules;
        foreach (var target in targets.Where(m => options.TextEncoder || m.Component == LoraComponent.Unet))
        {
            bool conv = target.OpType == "Conv";
            long[] downShape = conv ? [options.Rank, target.In, target.Kernel, target.Kernel] : [options.Rank, target.In];
            long[] upShape = conv ? [target.Out, options.Rank, 1, 1] : [target.Out, options.Rank];
            float[] down = Values(options, $"{target.Path}/down", options.Rank * target.InputsPerOutput, 1f / MathF.Sqrt(target.InputsPerOutput));
            float[] up = Values(options, $"{target.Path}/up", target.Out * options.Rank, 0.5f);
            string key = Key(options.Format, options.Family, target);
            if (options.Format != LoraKeyFormat.Peft)
            {
                tensors.Add(new($"{key}.lora_down.weight", downShape, down, options.DType));
                tensors.Add(new($"{key}.lora_up.weight", upShape, up, options.DType));
                tensors.Add(new($"{key}.alpha", [], [options.Alpha], options.DType));
            }
            else
            {
                tensors.Add(new($"{key}.lora_A.weight", downShape, down, options.DType));
                tensors.Add(new($"{key}.lora_B.weight", upShape, up, options.DType));
            }
            float alpha = options.Format != LoraKeyFormat.Peft ? SafeTensorsWriter.RoundTrip(options.Alpha, options.DType) : 0;
            modules.Add(new TestLoraModule(target, down, up, alpha == 0 ? 1f : alpha / options.Rank));
        }
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        return modules;
    }

    /// <summary>A module's name in the file, without the part suffix.</summary>
    public static string Key(LoraKeyFormat format, ModelFamily family, PatchableModule target) => (format, target.Component) switch
    {
        (LoraKeyFormat.KohyaSgm, LoraComponent.Unet) => "lora_unet_" + (target.SgmName ?? throw new ArgumentException($"module '{target.Path}' has no SGM name", nameof(target))),
        (LoraKeyFormat.Kohya, LoraComponent.Unet) => "lora_unet_" + LoraKey.Flatten(target.Path),
        (_, LoraComponent.TextEncoder) when format != LoraKeyFormat.Peft => (family == ModelFamily.StableDiffusionXL ? "lora_te1_" : "lora_te_") + LoraKey.Flatten(target.Path),
        (_, LoraComponent.TextEncoder2) when format != LoraKeyFormat.Peft => "lora_te2_" + LoraKey.Flatten(target.Path),
        (_, LoraComponent.Unet) => "unet." + target.Path,
        (_, LoraComponent.TextEncoder) => "text_encoder." + target.Path,
        _ => "text_encoder_2." + target.Path,
    };

    private static float[] Values(TestLoraOptions options, string name, long count, float limit)
    {
        float[] values = new WeightStream(options.Seed, $"lora/{name}").Values(count, limit, float16: false);
        for (int i = 0; i < values.Length; i++) values[i] = SafeTensorsWriter.RoundTrip(values[i], options.DType);
        return values;
    }
}
