using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.SyntheticModels;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Lcm.Tests.Lora;

/// <summary>The SD 1.5-style test model: three UNet inputs, and node and weight naming as real exports have it.</summary>
public sealed class Sd15StyleModelTests(LoraFixture fixture) : IClassFixture<LoraFixture>
{
    [Fact]
    public void The_unet_has_the_three_inputs_of_an_sd15_export()
    {
        using var session = new InferenceSession(ModelFolder.Open(fixture.Model(false)).UnetPath);

        Assert.Equal(["sample", "timestep", "encoder_hidden_states"], session.InputMetadata.Keys);
        Assert.Equal(["out_sample"], session.OutputMetadata.Keys);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_patchable_module_is_found_by_node_scope_with_the_exporters_weight_and_layout(bool float16)
    {
        var model = ModelFolder.Open(fixture.Model(float16));
        PatchableModules.AssertFound(Sd15StyleGraphs.Modules, (LoraComponent.Unet, model.UnetPath), (LoraComponent.TextEncoder, model.TextEncoderPath));
        // The attention's own MatMuls (scores, mixing) share the scope but multiply activations.
        Assert.Contains(PatchableModules.Graph(model.UnetPath).Node, n => n.Name == "/down_blocks.0/attentions.0/transformer_blocks.0/attn2/MatMul");
    }

    [Fact]
    public void Float32_unet_weights_are_external_as_in_real_exports_and_float16_ones_in_the_graph()
    {
        var fp32 = PatchableModules.Graph(ModelFolder.Open(fixture.Model(false)).UnetPath);
        var fp16 = PatchableModules.Graph(ModelFolder.Open(fixture.Model(true)).UnetPath);
        var names = Sd15StyleGraphs.Modules.Where(m => m.Component == LoraComponent.Unet).Select(m => m.WeightName).ToHashSet();

        Assert.All(fp32.Initializer.Where(t => names.Contains(t.Name)), t => Assert.Equal(TensorProto.Types.DataLocation.External, t.DataLocation));
        Assert.All(fp16.Initializer.Where(t => names.Contains(t.Name)), t => Assert.Equal((int)TensorProto.Types.DataType.Float16, t.DataType));
        Assert.DoesNotContain(fp16.Initializer, t => t.DataLocation == TensorProto.Types.DataLocation.External);
        Assert.True(File.Exists(Path.Combine(fixture.Model(false), "unet", "model.onnx_data")));
        Assert.False(File.Exists(Path.Combine(fixture.Model(true), "unet", "model.onnx_data")));
    }

    [Fact]
    public void The_same_seed_writes_identical_files()
    {
        string again = fixture.NewDirectory("again");
        TestModelMaker.Write(again, new TestModelOptions { Sd15Style = true });
        string lora = Path.Combine(again, "lora.safetensors"), loraAgain = Path.Combine(again, "lora-again.safetensors");
        TestLoraMaker.Write(lora, new TestLoraOptions());
        TestLoraMaker.Write(loraAgain, new TestLoraOptions());

        foreach (string file in Directory.GetFiles(fixture.Model(false), "*", SearchOption.AllDirectories))
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(again, Path.GetRelativePath(fixture.Model(false), file))));
        Assert.Equal(File.ReadAllBytes(lora), File.ReadAllBytes(loraAgain));
    }
}
