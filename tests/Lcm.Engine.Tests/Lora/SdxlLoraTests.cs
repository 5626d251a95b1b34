using System.Text.Json.Nodes;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Lora;

/// <summary>
/// LoRAs merged at load into the SDXL test model's UNet and both text encoders, in each of SDXL's key
/// formats (kohya with diffusers paths as latent-consistency/lcm-lora-sdxl, kohya SGM blocks, PEFT;
/// lora_te1_/lora_te2_), against a model written with the LoRA already merged; and the LoRAs that do
/// not fit (an SDXL one on SSD-1B or SD 1.5, SGM names the model's blocks do not have) merge nothing.
/// </summary>
public sealed class SdxlLoraTests(LoraFixture fixture) : IClassFixture<LoraFixture>
{
    private static TestModelOptions Sdxl(bool float16 = false) =>
        new() { Family = ModelFamily.StableDiffusionXL, Kind = ModelKind.LcmLora, Float16 = float16 };

    private static TestLoraOptions SdxlLora(LoraKeyFormat format, int seed = 1) =>
        new() { Family = ModelFamily.StableDiffusionXL, Format = format, Rank = 3, Alpha = 6, Seed = seed };

    private GraphPaths Merge(string model, params LoraFile[] loras) =>
        new MergedModels(fixture.NewDirectory("merged"), NullLogger.Instance).GetOrMerge(ModelFolder.Open(model), loras);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_patchable_module_is_found_by_node_scope_with_the_exporters_weight_and_layout(bool float16)
    {
        var model = ModelFolder.Open(fixture.Model(Sdxl(float16)));
        PatchableModules.AssertFound(SdxlGraphs.Modules, (LoraComponent.Unet, model.UnetPath), (LoraComponent.TextEncoder, model.TextEncoderPath), (LoraComponent.TextEncoder2, model.TextEncoder2Path!));
        // SDXL's proj_in is Linear: a MatMul on an [in, out] weight, then its bias.
        var unet = PatchableModules.Graph(model.UnetPath);
        Assert.Contains(unet.Node, n => n.Name == "/down_blocks.1/attentions.0/proj_in/MatMul");
        Assert.Contains(unet.Node, n => n.Name == "/down_blocks.1/attentions.0/proj_in/Add");
    }

    [Theory]
    [InlineData(LoraKeyFormat.Kohya, false)]
    [InlineData(LoraKeyFormat.Kohya, true)]
    [InlineData(LoraKeyFormat.KohyaSgm, false)]
    [InlineData(LoraKeyFormat.Peft, false)]
    [InlineData(LoraKeyFormat.Peft, true)]
    public void Merging_equals_a_model_written_with_the_lora_already_added(LoraKeyFormat format, bool float16)
    {
        var (file, modules) = fixture.Lora(SdxlLora(format));

        var merged = Merge(fixture.Model(Sdxl(float16)), file);

        // The UNet's Linear, Gemm and 1x1 and 3x3 conv weights, and both text encoders.
        Assert.Equal([LoraComponent.Unet, LoraComponent.TextEncoder, LoraComponent.TextEncoder2], modules.Select(m => m.Target.Component).Distinct());
        MergedWeights.AssertAsExpected(fixture, Sdxl(float16), SdxlGraphs.Modules, merged, LoraFixture.ExpectedDeltas((modules, 1.0)));
    }

    [Fact]
    public void Kohya_files_name_the_text_encoders_lora_te1_and_lora_te2()
    {
        var (file, _) = fixture.Lora(SdxlLora(LoraKeyFormat.Kohya));
        using var tensors = SafeTensorsFile.Open(file.Path);

        Assert.Contains("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", tensors.Tensors.Keys);
        Assert.Contains("lora_te2_text_projection.lora_up.weight", tensors.Tensors.Keys);
        Assert.Contains("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_q.alpha", tensors.Tensors.Keys);
    }

    [Fact]
    public void A_unet_only_lora_like_lcm_lora_sdxl_leaves_both_text_encoders_as_they_are()
    {
        var (file, modules) = fixture.Lora(SdxlLora(LoraKeyFormat.Kohya) with { TextEncoder = false });
        var source = ModelFolder.Open(fixture.Model(Sdxl()));

        var merged = Merge(source.Root, file);

        Assert.Equal((source.TextEncoderPath, source.TextEncoder2Path), (merged.TextEncoder, merged.TextEncoder2));
        MergedWeights.AssertAsExpected(fixture, Sdxl(), SdxlGraphs.Modules, merged, LoraFixture.ExpectedDeltas((modules, 1.0)));
    }

    [Fact]
    public void Sgm_blocks_are_numbered_by_the_unets_layers_per_block()
    {
        var (file, _) = fixture.Lora(SdxlLora(LoraKeyFormat.KohyaSgm) with { TextEncoder = false });
        string model = TestModels.CopyFolder(fixture.Model(Sdxl()), fixture.NewDirectory("one-layer"));
        string config = Path.Combine(model, "unet", "config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json["layers_per_block"] = 1;
        File.WriteAllText(config, json.ToJsonString());

        var error = Assert.Throws<LoraException>(() => Merge(model, file));

        // At one layer per block, input_blocks_4_1 is down block 1's second attention, which this UNet has not got.
        Assert.Equal(LoraException.Mismatch, error.Code);
        Assert.Contains("down_blocks_1_attentions_1_proj_in ('input_blocks_4_1_proj_in' in the file: no MatMul, Gemm or Conv node", error.Message);
    }

    [Fact]
    public void A_file_with_both_sgm_and_diffusers_block_names_keeps_the_diffusers_ones_as_diffusers_does()
    {
        var (file, modules) = fixture.Lora(SdxlLora(LoraKeyFormat.Kohya, seed: 2));
        var tensors = ReadAll(file.Path);
        // A stray SGM copy of one module, with other values: diffusers drops it.
        tensors.Add(new("lora_unet_input_blocks_4_1_proj_in.lora_down.weight", [3, 8], Enumerable.Repeat(0.5f, 24).ToArray()));
        tensors.Add(new("lora_unet_input_blocks_4_1_proj_in.lora_up.weight", [8, 3], Enumerable.Repeat(0.5f, 24).ToArray()));
        SafeTensorsWriter.Write(file.Path, tensors);

        var merged = Merge(fixture.Model(Sdxl()), file);

        MergedWeights.AssertAsExpected(fixture, Sdxl(), SdxlGraphs.Modules, merged, LoraFixture.ExpectedDeltas((modules, 1.0)));
    }

    [Fact]
    public void Sgm_names_outside_the_blocks_are_refused_as_diffusers_refuses_them()
    {
        var (file, _) = fixture.Lora(SdxlLora(LoraKeyFormat.KohyaSgm));
        var tensors = ReadAll(file.Path);
        tensors.Add(new("lora_unet_time_embed_0.lora_down.weight", [3, 8], new float[24]));
        tensors.Add(new("lora_unet_time_embed_0.lora_up.weight", [8, 3], new float[24]));
        SafeTensorsWriter.Write(file.Path, tensors);
        string cache = fixture.NewDirectory("merged");

        var error = Assert.Throws<LoraException>(() => new MergedModels(cache, NullLogger.Instance).GetOrMerge(ModelFolder.Open(fixture.Model(Sdxl())), [file]));

        Assert.Equal(LoraException.Mismatch, error.Code);
        Assert.Contains("names its UNet modules by SGM blocks", error.Message);
        Assert.Contains("1 UNet module(s) are not in a block", error.Message);
        Assert.Contains("'time_embed_0'", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache));
    }

    [Theory]
    [InlineData(LoraKeyFormat.Kohya)]
    [InlineData(LoraKeyFormat.KohyaSgm)]
    public void An_sdxl_lora_on_ssd_1b_with_fewer_transformer_blocks_is_lora_mismatch_listing_what_did_not_fit(LoraKeyFormat format)
    {
        var (file, _) = fixture.Lora(SdxlLora(format));
        string cache = fixture.NewDirectory("merged");
        string ssd1b = fixture.Model(Sdxl() with { Ssd1bStyle = true });

        var error = Assert.Throws<LoraException>(() => new MergedModels(cache, NullLogger.Instance).GetOrMerge(ModelFolder.Open(ssd1b), [file]));

        Assert.Equal(LoraException.Mismatch, error.Code);
        Assert.Contains($"1 of {SdxlGraphs.Modules.Count} modules do not match", error.Message);
        // An SGM-named module is listed by its diffusers name and the file's own.
        Assert.Contains(format == LoraKeyFormat.KohyaSgm
            ? "'down_blocks_1_attentions_0_transformer_blocks_1_ff_net_2 ('input_blocks_4_1_transformer_blocks_1_ff_net_2' in the file: no MatMul, Gemm or Conv node"
            : "'down_blocks_1_attentions_0_transformer_blocks_1_ff_net_2 (no MatMul, Gemm or Conv node", error.Message);
        Assert.Contains("nothing was merged", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache));
    }

    [Fact]
    public void An_sdxl_lora_on_an_sd15_model_is_lora_mismatch_naming_the_missing_second_text_encoder()
    {
        var (file, _) = fixture.Lora(SdxlLora(LoraKeyFormat.Kohya));

        var error = Assert.Throws<LoraException>(() => Merge(fixture.Model(false), file));

        Assert.Equal(LoraException.Mismatch, error.Code);
        Assert.Contains("text_projection (the model has no text_encoder_2/model.onnx", error.Message);
        Assert.Contains("down_blocks_1_attentions_0_proj_in (no MatMul, Gemm or Conv node", error.Message);
    }

    [Theory]
    [InlineData(LoraKeyFormat.Kohya)]
    [InlineData(LoraKeyFormat.KohyaSgm)]
    public void A_lora_merged_at_load_gives_the_image_of_a_model_written_with_it_merged(LoraKeyFormat format)
    {
        var (style, modules) = fixture.Lora(SdxlLora(format, seed: 7), scale: 0.8);
        string premerged = fixture.PreMerged(Sdxl(), LoraFixture.ExpectedDeltas((modules, 0.8)));
        var request = new GenerationRequest
        {
            Prompt = "a photo of a cat", Width = 96, Height = 64, Steps = 2, Seed = 5, GuidanceScale = 1.5, NegativePrompt = "blurry",
        };

        using var merged = LcmEngine.Load(fixture.Model(Sdxl()), TestModels.Cpu with { MergedModelDirectory = fixture.NewDirectory("merged") }, loras: [style]);
        using var expected = LcmEngine.Load(premerged, TestModels.Cpu);
        using var plain = LcmEngine.Load(fixture.Model(Sdxl()), TestModels.Cpu);

        var image = merged.Generate(request with { Loras = [style.Reference] }).Images[0];
        Images.AssertSameImage(expected.Generate(request).Images[0], image);
        // All three patched graphs are loaded from their merges.
        var patched = merged.Graphs.Where(g => g.Name is "text_encoder" or "text_encoder_2" or "unet").ToArray();
        Assert.Equal(3, patched.Length);
        Assert.All(patched, g => Assert.StartsWith(Path.GetFullPath(merged.Options.MergedModelDirectory!), g.Graph.Path));
        var unmerged = plain.Generate(request).Images[0];
        Assert.True(image.Rgb.Zip(unmerged.Rgb, (a, b) => a != b).Count(d => d) > image.Rgb.Length / 2, "the LoRA changes the picture");
    }

    [Fact]
    public void A_benchmark_sized_sdxl_unet_keeps_its_chain_in_external_data_and_merges_like_the_small_one()
    {
        // make-model --family sdxl --fp16 --unet-mb 40: above 32 MB the size chain goes to model.onnx_data.
        var large = Sdxl(float16: true) with { UnetMegabytes = 40 };
        var (file, modules) = fixture.Lora(SdxlLora(LoraKeyFormat.KohyaSgm, seed: 3));
        string model = fixture.Model(large);
        long data = new FileInfo(Path.Combine(model, "unet", "model.onnx_data")).Length;

        var merged = Merge(model, file);

        Assert.InRange(data, 39L << 20, 41L << 20);
        MergedWeights.AssertAsExpected(fixture, large, SdxlGraphs.Modules, merged, LoraFixture.ExpectedDeltas((modules, 1.0)));
        using var engine = LcmEngine.Load(model, TestModels.Cpu);
        Assert.Equal(1024, engine.Capabilities.DefaultWidth);
        Assert.Equal(64 * 64 * 3, engine.Generate(new GenerationRequest { Prompt = "a cat", Width = 64, Height = 64, Steps = 1, Seed = 1 }).Images[0].Rgb.Length);
    }

    private static List<SafeTensorValues> ReadAll(string path)
    {
        using var original = SafeTensorsFile.Open(path);
        return original.Tensors.Values.Select(t => new SafeTensorValues(t.Name, t.Shape, original.ReadFloats(t))).ToList();
    }
}
