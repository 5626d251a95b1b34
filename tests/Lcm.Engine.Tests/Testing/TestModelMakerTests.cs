using System.Text.Json;
using Lcm.SyntheticModels;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Xunit;

namespace Lcm.Tests.Testing;

public sealed class TestModelMakerTests
{
    private const TensorElementType F32 = TensorElementType.Float;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Graphs_have_the_signatures_of_real_exports(bool float16)
    {
        using var model = new TempModel(new TestModelOptions { Float16 = float16 });
        var f = float16 ? TensorElementType.Float16 : F32;

        AssertSignature(model.Path("text_encoder"),
            [("input_ids", TensorElementType.Int32, 2)],
            [("last_hidden_state", f, 3), ("pooler_output", f, 2)]);
        AssertSignature(model.Path("unet"),
            [("sample", f, 4), float16 ? ("timestep", F32, 0) : ("timestep", TensorElementType.Int64, 1),
             ("encoder_hidden_states", f, 3), ("timestep_cond", f, 2)],
            [("out_sample", f, 4)]);
        AssertSignature(model.Path("vae_decoder"), [("latent_sample", f, 4)], [("sample", f, 4)]);
        AssertSignature(model.Path("vae_encoder"), [("sample", f, 4)], [("latent_sample", f, 4)]);

        using var unet = new InferenceSession(model.Path("unet"));
        Assert.Equal(["batch", "", "height", "width"], unet.InputMetadata["sample"].SymbolicDimensions);
        Assert.Equal([-1, 77, 32], unet.InputMetadata["encoder_hidden_states"].Dimensions);
        Assert.Equal([-1, 256], unet.InputMetadata["timestep_cond"].Dimensions);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Unet_output_is_finite_and_moved_by_every_input(bool float16)
    {
        using var model = new TempModel(new TestModelOptions { Float16 = float16 });
        using var unet = new InferenceSession(model.Path("unet"));
        var random = new Random(7);
        var inputs = new Dictionary<string, (float[] Data, long[] Shape)>
        {
            ["sample"] = (Normal(random, 2 * 4 * 12 * 16), [2, 4, 12, 16]),
            ["timestep"] = ([999], float16 ? [] : [1]),
            ["encoder_hidden_states"] = (Normal(random, 2 * 77 * 32, 0.5f), [2, 77, 32]),
            ["timestep_cond"] = (Normal(random, 2 * 256, 0.5f), [2, 256]),
        };

        var (baseline, shape) = RunUnet(unet, inputs, float16);
        Assert.Equal([2, 4, 12, 16], shape);
        Assert.All(baseline, v => Assert.True(float.IsFinite(v) && Math.Abs(v) < 6, $"value {v}"));

        foreach (string name in inputs.Keys)
        {
            var changed = new Dictionary<string, (float[] Data, long[] Shape)>(inputs);
            changed[name] = (name == "timestep" ? [499] : inputs[name].Data.Select(v => v + 0.5f).ToArray(), inputs[name].Shape);
            var (output, _) = RunUnet(unet, changed, float16);
            float largestChange = output.Zip(baseline, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(largestChange > 1e-3f, $"{name} changes the output by only {largestChange}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Text_encoder_and_vae_decoder_run(bool float16)
    {
        using var model = new TempModel(new TestModelOptions { Float16 = float16 });
        int vocabularySize = ReadVocabulary(model).Count;

        using var textEncoder = new InferenceSession(model.Path("text_encoder"));
        var ids = Enumerable.Repeat(vocabularySize - 1, 77).ToArray();
        ids[0] = vocabularySize - 2;
        ids[1] = 300;
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [1, 77]);
        using var text = textEncoder.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["input_ids"] = idsValue }, ["last_hidden_state", "pooler_output"]);
        Assert.Equal([1, 77, 32], text[0].GetTensorTypeAndShape().Shape);
        Assert.Equal([1, 32], text[1].GetTensorTypeAndShape().Shape);
        Assert.All(ReadFloats(text[0]), v => Assert.InRange(v, -1f, 1f));

        using var decoder = new InferenceSession(model.Path("vae_decoder"));
        using var latent = FloatTensor(Normal(new Random(3), 4 * 5 * 6, 1 / 0.18215f), [1, 4, 5, 6], float16);
        using var image = decoder.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["latent_sample"] = latent }, ["sample"]);
        Assert.Equal([1, 3, 40, 48], image[0].GetTensorTypeAndShape().Shape);
        var pixels = ReadFloats(image[0]);
        Assert.All(pixels, v => Assert.InRange(v, -1f, 1f));
        Assert.True(StandardDeviation(pixels) > 0.1, "the decoded image should vary");
    }

    [Theory]
    [InlineData(VaeEncoderKind.LatentSample, false)]
    [InlineData(VaeEncoderKind.LatentParameters, false)]
    [InlineData(VaeEncoderKind.LatentParameters, true)]
    public void Vae_encoder_writes_either_output_kind(VaeEncoderKind kind, bool float16)
    {
        using var model = new TempModel(new TestModelOptions { VaeEncoder = kind, Float16 = float16 });
        using var encoder = new InferenceSession(model.Path("vae_encoder"));
        string output = kind == VaeEncoderKind.LatentSample ? "latent_sample" : "latent_parameters";
        Assert.Equal([output], encoder.OutputMetadata.Keys);

        var random = new Random(5);
        var pixels = Enumerable.Range(0, 2 * 3 * 32 * 48).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
        using var image = FloatTensor(pixels, [2, 3, 32, 48], float16);
        using var result = encoder.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["sample"] = image }, [output]);
        int channels = kind == VaeEncoderKind.LatentSample ? 4 : 8;
        Assert.Equal([2, channels, 4, 6], result[0].GetTensorTypeAndShape().Shape);
        var latents = ReadFloats(result[0]);
        Assert.All(latents, v => Assert.True(float.IsFinite(v)));
        if (kind == VaeEncoderKind.LatentParameters)
        {
            // Layout [batch, 8, 4, 6]: channels 4-7 of each batch item are log-variances.
            var logVariances = latents.Where((_, i) => i / 24 % 8 >= 4).ToArray();
            Assert.All(logVariances, v => Assert.InRange(v, -6f, 0f));
        }
    }

    [Fact]
    public void Same_seed_writes_identical_files_and_another_seed_other_weights()
    {
        using var first = new TempModel(new TestModelOptions { Seed = 42 });
        using var again = new TempModel(new TestModelOptions { Seed = 42 });
        using var other = new TempModel(new TestModelOptions { Seed = 43 });

        var files = RelativeFiles(first.Directory);
        Assert.Equal(files, RelativeFiles(again.Directory));
        foreach (string file in files)
            Assert.True(File.ReadAllBytes(Path.Combine(first.Directory, file)).AsSpan()
                .SequenceEqual(File.ReadAllBytes(Path.Combine(again.Directory, file))), file);

        foreach (string graph in new[] { "text_encoder", "unet", "vae_decoder", "vae_encoder" })
            Assert.False(File.ReadAllBytes(first.Path(graph)).AsSpan().SequenceEqual(File.ReadAllBytes(other.Path(graph))), graph);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Large_unet_keeps_aligned_weights_in_one_external_file_and_runs(bool float16)
    {
        using var model = new TempModel(new TestModelOptions { UnetMegabytes = 100, Float16 = float16 });
        var dataFile = new FileInfo(Path.Combine(model.Directory, "unet", "model.onnx_data"));
        Assert.True(dataFile.Exists);
        Assert.InRange(dataFile.Length, 95L << 20, 101L << 20);
        Assert.True(new FileInfo(model.Path("unet")).Length < 1 << 20, "model.onnx should hold only small weights");

        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(model.Path("unet"))).Graph;
        var external = graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        Assert.NotEmpty(external);
        foreach (var tensor in external)
        {
            var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal("model.onnx_data", entries["location"]);
            long offset = long.Parse(entries["offset"]), length = long.Parse(entries["length"]);
            Assert.Equal(0, offset % (64 * 1024));
            Assert.Equal(tensor.Dims.Aggregate(1L, (a, b) => a * b) * (float16 ? 2 : 4), length);
            Assert.True(offset + length <= dataFile.Length);
        }

        using var unet = new InferenceSession(model.Path("unet"));
        var (output, shape) = RunUnet(unet, UnetInputs(batch: 1, float16), float16);
        Assert.Equal([1, 4, 8, 8], shape);
        Assert.All(output, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Fixed_batch_makes_every_batch_dimension_one()
    {
        using var model = new TempModel(new TestModelOptions { FixedBatch = true });
        foreach (string graph in new[] { "text_encoder", "unet", "vae_decoder", "vae_encoder" })
        {
            using var session = new InferenceSession(model.Path(graph));
            foreach (var (name, metadata) in session.InputMetadata.Concat(session.OutputMetadata))
                if (name != "timestep")
                    Assert.True(metadata.Dimensions[0] == 1 && metadata.SymbolicDimensions[0] == "", $"{graph}/{name}");
        }

        using var unet = new InferenceSession(model.Path("unet"));
        Assert.Equal([1, 4, 8, 8], RunUnet(unet, UnetInputs(batch: 1, float16: false), false).Shape);
    }

    [Fact]
    public void Tokenizer_is_a_consistent_clip_bpe_vocabulary()
    {
        using var model = new TempModel(new TestModelOptions());
        var vocabulary = ReadVocabulary(model);
        Assert.Equal(Enumerable.Range(0, vocabulary.Count), vocabulary.Values.Order());
        Assert.Equal(0, vocabulary["!"]);
        Assert.Equal(256, vocabulary["!</w>"]);
        Assert.Equal(vocabulary.Count - 2, vocabulary["<|startoftext|>"]);
        Assert.Equal(vocabulary.Count - 1, vocabulary["<|endoftext|>"]);
        Assert.Contains("cat</w>", vocabulary.Keys);

        var lines = File.ReadAllLines(Path.Combine(model.Directory, "tokenizer", "merges.txt"));
        Assert.Equal("#version: 0.2", lines[0]);
        Assert.InRange(lines.Length - 1, 200, 1000);
        foreach (string merge in lines.Skip(1))
        {
            var parts = merge.Split(' ');
            Assert.Equal(2, parts.Length);
            Assert.Contains(parts[0] + parts[1], vocabulary.Keys);
        }

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(model.Directory, "text_encoder", "config.json")));
        Assert.Equal(vocabulary.Count, config.RootElement.GetProperty("vocab_size").GetInt32());
        using var tokenizerConfig = JsonDocument.Parse(File.ReadAllText(Path.Combine(model.Directory, "tokenizer", "tokenizer_config.json")));
        Assert.Equal("<|endoftext|>", tokenizerConfig.RootElement.GetProperty("pad_token").GetString());
        Assert.Equal(77, tokenizerConfig.RootElement.GetProperty("model_max_length").GetInt32());
    }

    [Fact]
    public void Configs_carry_the_keys_the_pipeline_reads()
    {
        using var model = new TempModel(new TestModelOptions());
        JsonElement Read(string path) => JsonDocument.Parse(File.ReadAllText(Path.Combine(model.Directory, path))).RootElement;

        var scheduler = Read("scheduler/scheduler_config.json");
        Assert.Equal("LCMScheduler", scheduler.GetProperty("_class_name").GetString());
        Assert.Equal(1000, scheduler.GetProperty("num_train_timesteps").GetInt32());
        Assert.Equal(0.00085, scheduler.GetProperty("beta_start").GetDouble());
        Assert.Equal(0.012, scheduler.GetProperty("beta_end").GetDouble());
        Assert.Equal(50, scheduler.GetProperty("original_inference_steps").GetInt32());
        Assert.Equal(10.0, scheduler.GetProperty("timestep_scaling").GetDouble());
        Assert.True(scheduler.GetProperty("set_alpha_to_one").GetBoolean());
        Assert.Equal(0.18215, Read("vae_decoder/config.json").GetProperty("scaling_factor").GetDouble(), 5);
        Assert.Equal(256, Read("unet/config.json").GetProperty("time_cond_proj_dim").GetInt32());
        Assert.Equal("LatentConsistencyModelPipeline", Read("model_index.json").GetProperty("_class_name").GetString());
    }

    private static void AssertSignature(string path, (string, TensorElementType, int)[] inputs, (string, TensorElementType, int)[] outputs)
    {
        using var session = new InferenceSession(path);
        static (string, TensorElementType, int)[] Describe(IReadOnlyDictionary<string, NodeMetadata> metadata) =>
            metadata.Select(m => (m.Key, m.Value.ElementDataType, m.Value.Dimensions.Length)).ToArray();
        Assert.Equal(inputs, Describe(session.InputMetadata));
        Assert.Equal(outputs, Describe(session.OutputMetadata));
    }

    private static Dictionary<string, (float[] Data, long[] Shape)> UnetInputs(int batch, bool float16)
    {
        var random = new Random(11);
        return new()
        {
            ["sample"] = (Normal(random, batch * 4 * 8 * 8), [batch, 4, 8, 8]),
            ["timestep"] = ([500], float16 ? [] : [1]),
            ["encoder_hidden_states"] = (Normal(random, batch * 77 * 32, 0.5f), [batch, 77, 32]),
            ["timestep_cond"] = (Normal(random, batch * 256, 0.5f), [batch, 256]),
        };
    }

    private static (float[] Output, long[] Shape) RunUnet(InferenceSession unet, Dictionary<string, (float[] Data, long[] Shape)> inputs, bool float16)
    {
        var values = inputs.ToDictionary(i => i.Key, i => i.Key == "timestep"
            ? float16 ? OrtValue.CreateTensorValueFromMemory(i.Value.Data, i.Value.Shape)
                      : OrtValue.CreateTensorValueFromMemory(i.Value.Data.Select(v => (long)v).ToArray(), i.Value.Shape)
            : FloatTensor(i.Value.Data, i.Value.Shape, float16));
        try
        {
            using var results = unet.Run(new RunOptions(), values, ["out_sample"]);
            return (ReadFloats(results[0]), results[0].GetTensorTypeAndShape().Shape);
        }
        finally
        {
            foreach (var value in values.Values)
                value.Dispose();
        }
    }

    private static OrtValue FloatTensor(float[] data, long[] shape, bool float16) => float16
        ? OrtValue.CreateTensorValueFromMemory(data.Select(v => (Float16)v).ToArray(), shape)
        : OrtValue.CreateTensorValueFromMemory(data, shape);

    private static float[] ReadFloats(OrtValue value) =>
        value.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16
            ? value.GetTensorDataAsSpan<Float16>().ToArray().Select(v => v.ToFloat()).ToArray()
            : value.GetTensorDataAsSpan<float>().ToArray();

    private static float[] Normal(Random random, int count, float scale = 1f) =>
        Enumerable.Range(0, count).Select(_ => scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();

    private static double StandardDeviation(float[] values)
    {
        double mean = values.Average();
        return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
    }

    private static Dictionary<string, int> ReadVocabulary(TempModel model) =>
        JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(model.Directory, "tokenizer", "vocab.json")))!;

    private static string[] RelativeFiles(string directory) =>
        Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(directory, f)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>A model folder in a fresh temporary directory, deleted on dispose.</summary>
    private sealed class TempModel : IDisposable
    {
        public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("lcm-test-model-").FullName;

        public TempModel(TestModelOptions options) => TestModelMaker.Write(Directory, options);

        public string Path(string graph) => System.IO.Path.Combine(Directory, graph, "model.onnx");

        public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
    }
}
