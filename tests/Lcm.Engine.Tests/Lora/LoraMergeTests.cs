using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.SyntheticModels;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Lora;

/// <summary>
/// Merging a LoRA into a model's graphs gives the weights of a model written with the LoRA already
/// added (within float rounding), for every kind of weight the exporters write, both key formats,
/// float16 weights, and several LoRAs with scales; anything that does not match merges nothing.
/// </summary>
public sealed class LoraMergeTests(LoraFixture fixture) : IClassFixture<LoraFixture>
{
    private GraphPaths Merge(bool float16, params LoraFile[] loras) =>
        new MergedModels(fixture.NewDirectory("merged"), NullLogger.Instance).GetOrMerge(ModelFolder.Open(fixture.Model(float16)), loras);

    private void AssertMergedAsExpected(bool float16, GraphPaths merged, IReadOnlyDictionary<(LoraComponent, string), float[]> deltas) =>
        MergedWeights.AssertAsExpected(fixture, new TestModelOptions { Sd15Style = true, Float16 = float16 }, Sd15StyleGraphs.Modules, merged, deltas);

    [Theory]
    [InlineData(LoraKeyFormat.Kohya, false)]
    [InlineData(LoraKeyFormat.Peft, false)]
    [InlineData(LoraKeyFormat.Kohya, true)]
    [InlineData(LoraKeyFormat.Peft, true)]
    public void Merging_equals_a_model_written_with_the_lora_already_added(LoraKeyFormat format, bool float16)
    {
        var (file, modules) = fixture.Lora(new TestLoraOptions { Format = format, Rank = 3, Alpha = 6 });

        var merged = Merge(float16, file);

        // Linear (MatMul on transposed weights), Gemm with transB 1 and 0, 1x1 and 3x3 conv, UNet and text encoder.
        Assert.Equal(5, Sd15StyleGraphs.Modules.Select(m => m.OpType + m.Kernel + m.Layout).Distinct().Count());
        AssertMergedAsExpected(float16, merged, LoraFixture.ExpectedDeltas((modules, 1.0)));
    }

    [Fact]
    public void Two_loras_with_their_own_scales_add_up()
    {
        var (style, styleModules) = fixture.Lora(new TestLoraOptions { Seed = 2, Rank = 2 }, scale: 0.7, name: "style");
        var (other, otherModules) = fixture.Lora(new TestLoraOptions { Seed = 3, Format = LoraKeyFormat.Peft, TextEncoder = false }, scale: -0.4, name: "other");

        var merged = Merge(false, style, other);

        AssertMergedAsExpected(false, merged, LoraFixture.ExpectedDeltas((styleModules, 0.7), (otherModules, -0.4)));
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Half_precision_lora_files_merge_in_float32(string dtype)
    {
        var (file, modules) = fixture.Lora(new TestLoraOptions { DType = dtype, Seed = 4 }, scale: 0.5);

        AssertMergedAsExpected(false, Merge(false, file), LoraFixture.ExpectedDeltas((modules, 0.5)));
    }

    [Fact]
    public void External_weights_are_patched_in_a_copy_of_the_data_and_the_graph_file_stays_as_exported()
    {
        var (file, _) = fixture.Lora(new TestLoraOptions { TextEncoder = false });
        string source = ModelFolder.Open(fixture.Model(false)).UnetPath;
        string sourceData = Path.Combine(Path.GetDirectoryName(source)!, "model.onnx_data");
        byte[] dataBefore = File.ReadAllBytes(sourceData);

        var merged = Merge(false, file);

        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(merged.Unet));
        string mergedData = Path.Combine(Path.GetDirectoryName(merged.Unet)!, "model.onnx_data");
        Assert.Equal(dataBefore.Length, new FileInfo(mergedData).Length);
        Assert.NotEqual(dataBefore, File.ReadAllBytes(mergedData));
        Assert.Equal(dataBefore, File.ReadAllBytes(sourceData));
        // A UNet-only LoRA leaves the text encoder as it is.
        Assert.Equal(ModelFolder.Open(fixture.Model(false)).TextEncoderPath, merged.TextEncoder);
    }

    [Fact]
    public void The_same_loras_and_scales_reuse_the_cache_and_a_changed_file_or_scale_merges_anew()
    {
        var (file, _) = fixture.Lora(new TestLoraOptions());
        var cache = new MergedModels(fixture.NewDirectory("merged"), NullLogger.Instance);
        var model = ModelFolder.Open(fixture.Model(false));

        var first = cache.GetOrMerge(model, [file]);
        var written = File.GetLastWriteTimeUtc(first.Unet);
        var again = cache.GetOrMerge(model, [file]);
        var rescaled = cache.GetOrMerge(model, [file with { Scale = 0.5 }]);
        TestLoraMaker.Write(file.Path, new TestLoraOptions { Seed = 9 }); // same name, new content
        var rewritten = cache.GetOrMerge(model, [file]);

        Assert.Equal(first, again);
        Assert.Equal(written, File.GetLastWriteTimeUtc(again.Unet));
        Assert.Equal(3, new[] { first.Unet, rescaled.Unet, rewritten.Unet }.Distinct().Count());
        Assert.Equal(3, new[] { first.TextEncoder, rescaled.TextEncoder, rewritten.TextEncoder }.Distinct().Count());
    }

    [Fact]
    public void A_graph_whose_merge_went_missing_is_merged_again_alone()
    {
        var (file, modules) = fixture.Lora(new TestLoraOptions { Seed = 5 });
        var cache = new MergedModels(fixture.NewDirectory("merged"), NullLogger.Instance);
        var model = ModelFolder.Open(fixture.Model(false));
        var first = cache.GetOrMerge(model, [file]);
        var unetWritten = File.GetLastWriteTimeUtc(first.Unet);
        Directory.Delete(Path.GetDirectoryName(first.TextEncoder)!, recursive: true);

        var again = cache.GetOrMerge(model, [file]);

        Assert.Equal(first, again);
        Assert.Equal(unetWritten, File.GetLastWriteTimeUtc(again.Unet));
        AssertMergedAsExpected(false, again, LoraFixture.ExpectedDeltas((modules, 1.0)));
    }

    [Fact]
    public void Keys_the_model_lacks_are_listed_and_nothing_is_merged()
    {
        var (file, _) = fixture.Lora(new TestLoraOptions());
        var tensors = new List<SafeTensorValues>();
        using (var original = SafeTensorsFile.Open(file.Path))
            tensors.AddRange(original.Tensors.Values.Select(t => new SafeTensorValues(t.Name, t.Shape, original.ReadFloats(t))));
        // A module the UNet has not got, and one whose shape does not fit its weight.
        tensors.Add(new("lora_unet_mid_block_attentions_0_proj_in.lora_down.weight", [4, 8], new float[32]));
        tensors.Add(new("lora_unet_mid_block_attentions_0_proj_in.lora_up.weight", [8, 4], new float[32]));
        tensors.RemoveAll(t => t.Name.StartsWith("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_", StringComparison.Ordinal));
        tensors.Add(new("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", [4, 31], new float[124]));
        tensors.Add(new("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", [32, 4], new float[128]));
        SafeTensorsWriter.Write(file.Path, tensors);
        string cache = fixture.NewDirectory("merged");

        var error = Assert.Throws<LoraException>(() => new MergedModels(cache, NullLogger.Instance).GetOrMerge(ModelFolder.Open(fixture.Model(false)), [file]));

        Assert.Equal(LoraException.Mismatch, error.Code);
        Assert.Contains("2 of 12 modules do not match", error.Message);
        Assert.Contains("mid_block_attentions_0_proj_in (no MatMul, Gemm or Conv node", error.Message);
        Assert.Contains("text_model_encoder_layers_0_self_attn_q_proj (shapes do not fit", error.Message);
        Assert.Contains("nothing was merged", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache));
    }

    [Fact]
    public void Tensors_that_are_not_lora_keys_are_refused()
    {
        var (file, _) = fixture.Lora(new TestLoraOptions());
        var tensors = new List<SafeTensorValues>();
        using (var original = SafeTensorsFile.Open(file.Path))
            tensors.AddRange(original.Tensors.Values.Select(t => new SafeTensorValues(t.Name, t.Shape, original.ReadFloats(t))));
        tensors.Add(new("lora_unet_conv_out.hada_w1_a", [4, 2], new float[8])); // LoHa
        SafeTensorsWriter.Write(file.Path, tensors);

        var error = Assert.Throws<LoraException>(() => Merge(false, file));

        Assert.Equal(LoraException.Mismatch, error.Code);
        Assert.Contains("'lora_unet_conv_out.hada_w1_a'", error.Message);
    }

    [Fact]
    public void Graphs_with_unscoped_node_names_are_refused_with_the_reason()
    {
        // The distilled test model names its nodes matmul_3, conv_7: nothing to match a module to.
        string model = fixture.NewDirectory("lcm");
        TestModelMaker.Write(model, new TestModelOptions());
        var (file, _) = fixture.Lora(new TestLoraOptions());

        var error = Assert.Throws<LoraException>(() =>
            new MergedModels(fixture.NewDirectory("merged"), NullLogger.Instance).GetOrMerge(ModelFolder.Open(model), [file]));

        Assert.Equal(LoraException.Mismatch, error.Code);
        Assert.Contains("11 of 11 modules do not match", error.Message);
        Assert.Contains("no weight nodes with scoped names", error.Message);
    }
}
