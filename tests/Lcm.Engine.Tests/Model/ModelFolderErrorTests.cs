using System.Text.Json.Nodes;
using DataType = Onnx.TensorProto.Types.DataType;
using Google.Protobuf;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.SyntheticModels;
using Lcm.Tests.Generation;
using Onnx;

namespace Lcm.Tests.Model;

/// <summary>
/// Broken model folders fail to load with a <see cref="ModelFormatException"/> whose message names
/// the file and says what was expected and what was found.
/// </summary>
public sealed class ModelFolderErrorTests(TestModels models) : IClassFixture<TestModels>
{
    private static ModelFormatException LoadFails(string folder) =>
        Assert.Throws<ModelFormatException>(() => LcmEngine.Load(folder, TestModels.Cpu));

    [Fact]
    public void Missing_folder()
    {
        string folder = Path.Combine(models.Root, "no-such-model");
        var e = LoadFails(folder);
        Assert.Contains($"'{folder}' does not exist", e.Message);
        Assert.Contains("text_encoder/, unet/, vae_decoder/ and tokenizer/", e.Message);
    }

    [Theory]
    [InlineData("text_encoder/model.onnx")]
    [InlineData("unet/model.onnx")]
    [InlineData("vae_decoder/model.onnx")]
    [InlineData("tokenizer/vocab.json")]
    [InlineData("tokenizer/merges.txt")]
    public void Missing_file(string relative)
    {
        string folder = models.Copy();
        File.Delete(Path.Combine(folder, relative));
        var e = LoadFails(folder);
        Assert.Contains($"model folder '{folder}' is missing '{relative.Replace('/', Path.DirectorySeparatorChar)}'", e.Message);
    }

    [Fact]
    public void Malformed_scheduler_config()
    {
        string folder = models.Copy();
        string config = Path.Combine(folder, "scheduler", "scheduler_config.json");
        File.WriteAllText(config, "{ \"beta_schedule\": \"scaled_linear\", ");
        var e = LoadFails(folder);
        Assert.Contains($"'{config}' is not a valid config", e.Message);
        Assert.IsAssignableFrom<System.Text.Json.JsonException>(e.InnerException);
    }

    [Theory]
    [InlineData("beta_schedule", "squaredcos_cap_v2", "scaled_linear, linear")]
    [InlineData("prediction_type", "flow", "epsilon, v_prediction, sample")]
    public void Unsupported_scheduler_setting(string key, string value, string supported)
    {
        string folder = models.Copy();
        string config = Path.Combine(folder, "scheduler", "scheduler_config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json[key] = value;
        File.WriteAllText(config, json.ToJsonString());

        var e = LoadFails(folder);
        Assert.Contains(config, e.Message);
        Assert.Contains($"{key} must be one of {supported}, found '{value}'", e.Message);
    }

    [Fact]
    public void Unet_with_an_input_the_engine_cannot_feed()
    {
        string folder = models.Copy();
        string unet = Path.Combine(folder, "unet", "model.onnx");
        EditGraph(unet, g => RenameInput(g, "timestep_cond", "guidance"));

        var e = LoadFails(folder);
        Assert.Contains($"'{unet}' has input 'guidance', which the engine cannot feed", e.Message);
    }

    [Fact]
    public void Unet_with_renamed_output()
    {
        string folder = models.Copy();
        string unet = Path.Combine(folder, "unet", "model.onnx");
        EditGraph(unet, g => RenameOutput(g, "out_sample", "noise_pred"));

        var e = LoadFails(folder);
        Assert.Contains($"'{unet}' has no output 'out_sample'; found outputs: noise_pred", e.Message);
    }

    [Fact]
    public void Vae_decoder_with_renamed_input()
    {
        string folder = models.Copy();
        string vae = Path.Combine(folder, "vae_decoder", "model.onnx");
        EditGraph(vae, g => RenameInput(g, "latent_sample", "latents"));

        var e = LoadFails(folder);
        Assert.Contains($"'{vae}' has no input 'latent_sample'; found inputs: latents", e.Message);
    }

    [Fact]
    public void Text_encoder_with_float_input_ids()
    {
        string folder = models.Copy();
        string encoder = Path.Combine(folder, "text_encoder", "model.onnx");
        EditGraph(encoder, g => RetypeInput(g, "input_ids", DataType.Float));

        var e = LoadFails(folder);
        Assert.Contains($"'{encoder}' input 'input_ids' must be a tensor of Int32 or Int64, found Float", e.Message);
    }

    [Fact]
    public void Unet_with_double_sample()
    {
        string folder = models.Copy();
        string unet = Path.Combine(folder, "unet", "model.onnx");
        EditGraph(unet, g => RetypeInput(g, "sample", DataType.Double));

        var e = LoadFails(folder);
        Assert.Contains($"'{unet}' input 'sample' must be a tensor of Float or Float16, found Double", e.Message);
    }

    [Fact]
    public void Unet_sample_of_wrong_rank()
    {
        string folder = models.Copy();
        string unet = Path.Combine(folder, "unet", "model.onnx");
        // A [batch, 4, height, width, 1] sample squeezed back to rank 4 inside the graph.
        EditGraph(unet, g =>
        {
            var shape = g.Input.Single(i => i.Name == "sample").Type.TensorType.Shape;
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 1 });
            Reroute(g, "sample", "sample_rank4", "Squeeze", new TensorProto { Name = "axis_4", DataType = (int)DataType.Int64, Dims = { 1 }, Int64Data = { 4 } });
        });

        var e = LoadFails(folder);
        Assert.Contains($"'{unet}' input 'sample' must have rank 4, found rank 5", e.Message);
    }

    [Theory]
    [InlineData("unet", "truncated")]
    [InlineData("text_encoder", "garbage")]
    [InlineData("vae_decoder", "empty")]
    public void Corrupt_graph_file(string graph, string damage)
    {
        string folder = models.Copy();
        string path = Path.Combine(folder, graph, "model.onnx");
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, damage switch
        {
            "truncated" => bytes[..(bytes.Length / 2)],
            "garbage" => Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 >> 3)).ToArray(),
            _ => [],
        });

        var e = LoadFails(folder);
        Assert.Contains($"'{path}' could not be loaded by ONNX Runtime", e.Message);
    }

    [Fact]
    public void Mismatched_hidden_sizes_name_both_graphs()
    {
        string folder = models.Copy();
        string unet = Path.Combine(folder, "unet", "model.onnx");
        // encoder_hidden_states declared 64 wide and sliced back to 32 inside: the graph loads, but
        // disagrees with the text encoder's 32.
        EditGraph(unet, g =>
        {
            var shape = g.Input.Single(i => i.Name == "encoder_hidden_states").Type.TensorType.Shape;
            shape.Dim[2].DimValue = 64;
            g.Initializer.Add(new TensorProto { Name = "slice_starts", DataType = (int)DataType.Int64, Dims = { 1 }, Int64Data = { 0 } });
            g.Initializer.Add(new TensorProto { Name = "slice_ends", DataType = (int)DataType.Int64, Dims = { 1 }, Int64Data = { 32 } });
            g.Initializer.Add(new TensorProto { Name = "slice_axes", DataType = (int)DataType.Int64, Dims = { 1 }, Int64Data = { 2 } });
            Reroute(g, "encoder_hidden_states", "states_32", "Slice", extraInputs: ["slice_starts", "slice_ends", "slice_axes"]);
        });

        var e = LoadFails(folder);
        Assert.Contains("gives hidden states of width 32", e.Message);
        Assert.Contains($"'{unet}' input 'encoder_hidden_states' expects 64", e.Message);
    }

    [Fact]
    public void Fixed_batch_model_makes_several_images_one_at_a_time()
    {
        string folder = models.NewDirectory("fixed-batch");
        TestModelMaker.Write(folder, new TestModelOptions { FixedBatch = true });
        using var fixedBatch = LcmEngine.Load(folder, TestModels.Cpu);
        var request = new GenerationRequest { Prompt = "a cat", Width = 96, Height = 64, Steps = 2, Seed = 7, Count = 2 };
        var other = request with { Prompt = "a dog", Seed = 20, Count = 1 };

        var result = fixedBatch.Generate(request);
        var batch = fixedBatch.GenerateBatch([request, other]);

        // The same seed writes the same weights whatever the batch dimension, so the images must
        // equal those of the dynamic-batch model (which runs both images in one UNet batch).
        var dynamic = models.Engine(float16: false).Generate(request);
        Assert.Equal([7L, 8L], result.Images.Select(i => i.Seed));
        Images.AssertSameImage(dynamic.Images[0], result.Images[0]);
        Images.AssertSameImage(dynamic.Images[1], result.Images[1]);
        Assert.NotEqual(Images.Png(result, 0), Images.Png(result, 1));
        // One image at a time either way: the batch changes nothing.
        Assert.Equal(result.Images.Select(Images.Png), batch[0].Images.Select(Images.Png));
        // Batch 1 against batch 1: byte-identical.
        Assert.Equal(Images.Png(models.Engine(float16: false).Generate(other)), Images.Png(batch[1]));
    }

    private static void EditGraph(string path, Action<GraphProto> edit)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        edit(model.Graph);
        File.WriteAllBytes(path, model.ToByteArray());
    }

    private static void RenameInput(GraphProto graph, string from, string to)
    {
        graph.Input.Single(i => i.Name == from).Name = to;
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == from) node.Input[i] = to;
    }

    private static void RenameOutput(GraphProto graph, string from, string to)
    {
        graph.Output.Single(o => o.Name == from).Name = to;
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Output.Count; i++)
                if (node.Output[i] == from) node.Output[i] = to;
    }

    /// <summary>Declares the input with another element type and casts it back at the start, so the graph stays valid.</summary>
    private static void RetypeInput(GraphProto graph, string name, DataType type)
    {
        var tensor = graph.Input.Single(i => i.Name == name).Type.TensorType;
        int original = tensor.ElemType;
        tensor.ElemType = (int)type;
        Reroute(graph, name, $"{name}_original_type", "Cast", attribute: new AttributeProto
        {
            Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = original,
        });
    }

    /// <summary>Makes every node read <paramref name="name"/> through a new first node <paramref name="op"/>.</summary>
    private static void Reroute(GraphProto graph, string name, string rerouted, string op, TensorProto? constant = null,
        AttributeProto? attribute = null, string[]? extraInputs = null)
    {
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == name) node.Input[i] = rerouted;
        var first = new NodeProto { OpType = op, Name = $"reroute_{name}", Input = { name }, Output = { rerouted } };
        if (constant != null)
        {
            graph.Initializer.Add(constant);
            first.Input.Add(constant.Name);
        }
        if (extraInputs != null) first.Input.Add(extraInputs);
        if (attribute != null) first.Attribute.Add(attribute);
        graph.Node.Insert(0, first);
    }
}
