using System.CommandLine;
using Lcm.Contracts;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Engine.Schedulers;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Cli;

/// <summary><c>lcm info</c>: each graph's inputs and outputs, the config values in use and the execution provider.</summary>
internal static class InfoCommand
{
    private static readonly Option<string> Model = CliOptions.Model();
    private static readonly Option<string[]> Loras = CliOptions.Loras();

    public static Command Create()
    {
        var command = new Command("info", "Shows each graph's inputs and outputs, the model kind and defaults, the config in use, the execution provider; with --lora, how each LoRA's keys match.")
        {
            Model, Loras,
        };
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult args)
    {
        string? model = args.GetValue(Model);
        var loraArguments = args.GetValue(Loras) ?? [];
        var loras = CliLoras.Resolve(loraArguments);
        string modelPath = CliModel.Resolve(model);
        using var engine = CliModel.LoadEngine(modelPath);
        Console.WriteLine($"model: {engine.Model.Root}");
        var can = engine.Capabilities;
        Console.WriteLine($"family: {(can.Family == ModelFamily.StableDiffusionXL ? "SDXL (two text encoders, penultimate hidden states, text_embeds and time_ids)" : "SD 1.5 (one text encoder, last hidden state)")}");
        Console.WriteLine($"kind: {(engine.Kind == ModelKind.Distilled ? "distilled LCM (guidance as timestep_cond)" : "LCM-LoRA (UNet without timestep_cond; classifier-free guidance above 1)")}");
        if (can.Family == ModelFamily.StableDiffusionXL)
            Console.WriteLine($"negative prompt: {(engine.Model.ForceZerosForEmptyPrompt ? "absent gives zero embeddings (force_zeros_for_empty_prompt); an empty one is encoded" : "absent is the empty text")}");
        Console.WriteLine($"image-to-image: {(can.ImageToImage == ImageToImageRule.LcmStrength
            ? "LCM img2img rule (floor(original_inference_steps x strength) origin steps, sampled at steps)"
            : "generic img2img rule (the last min(floor(steps x strength), steps) timesteps of the full schedule)")}");
        Console.WriteLine($"decoder tiny: {(can.SupportsTinyDecoder ? "available (vae_decoder_tiny/ or LCM_TINY_VAE_PATH)" : "none (add vae_decoder_tiny/ or set LCM_TINY_VAE_PATH)")}");
        Console.WriteLine($"execution provider: {engine.ExecutionProvider}{(engine.ExecutionProviderFallbackReason is { } why ? $" ({why})" : "")}");
        foreach (var (name, graph) in engine.Graphs)
        {
            Console.WriteLine($"{name}: {graph.Path}");
            foreach (var (input, meta) in graph.Session.InputMetadata) Console.WriteLine($"  input  {input}: {Describe(meta)}");
            foreach (var (output, meta) in graph.Session.OutputMetadata) Console.WriteLine($"  output {output}: {Describe(meta)}");
        }
        var s = engine.Model.Scheduler;
        Console.WriteLine("scheduler:");
        Console.WriteLine($"  num_train_timesteps={s.NumTrainTimesteps} beta_start={s.BetaStart} beta_end={s.BetaEnd} beta_schedule={s.BetaSchedule.ToConfigName()}");
        Console.WriteLine($"  original_inference_steps={s.OriginalInferenceSteps} timestep_scaling={s.TimestepScaling} set_alpha_to_one={s.SetAlphaToOne} prediction_type={s.PredictionType.ToConfigName()}");
        Console.WriteLine($"vae scaling_factor={engine.Model.VaeScalingFactor}");
        Console.WriteLine($"unet time_cond_proj_dim={engine.TimeCondDim?.ToString() ?? "none"}");
        Console.WriteLine($"tokenizer vocabulary={engine.Tokenizer.VocabularySize}");
        // Matched, not merged: a LoRA that does not fit fails here with the list of what did not match.
        foreach (var report in MergedModels.Check(engine.Model, loras))
            Console.WriteLine(can.Family == ModelFamily.StableDiffusionXL
                ? $"lora {report.Name}: {report.Tensors} keys matched: {report.UnetModules} UNet, {report.TextEncoderModules} text encoder and {report.TextEncoder2Modules} text encoder 2 modules"
                : $"lora {report.Name}: {report.Tensors} keys matched: {report.UnetModules} UNet and {report.TextEncoderModules} text encoder modules");
        Console.WriteLine($"defaults: steps={RequestLimits.DefaultSteps} guidance={can.Guidance.Default} (0..{can.Guidance.Max}) size={can.DefaultWidth}x{can.DefaultHeight}; max size {engine.Options.MaxImageSize}");
        var memory = engine.Capabilities.Memory;
        Console.WriteLine($"memory budget: {memory.Bytes / (1024 * 1024)} MB ({memory.Source}); a {RequestLimits.DefaultSize}x{RequestLimits.DefaultSize} image needs about {memory.Estimate.PeakBytes(RequestLimits.DefaultSize, RequestLimits.DefaultSize, 1) / (1024 * 1024)} MB; VAE tiling {memory.Tiling.ToString().ToLowerInvariant()} (LCM_VAE_TILING); "
            + $"attention {(memory.Estimate.AttentionBlockTokens is int block ? $"in blocks of {block} query tokens" : "unsplit")} (LCM_ATTENTION_SLICING)");
        return 0;
    }

    private static string Describe(NodeMetadata meta)
    {
        var dims = meta.Dimensions.Select((d, i) => d > 0 ? d.ToString() : meta.SymbolicDimensions[i] is { Length: > 0 } n ? n : "?");
        return $"{(meta.IsTensor ? meta.ElementDataType.ToString() : meta.OnnxValueType.ToString())} [{string.Join(", ", dims)}]";
    }
}
