using System.Buffers.Binary;
using System.Text;
using Lcm.Engine.Loaders.Lora;
using Lcm.SyntheticModels;

namespace Lcm.Tests.Lora;

/// <summary>The safetensors reader: the three float types, and clear refusals of every kind of malformed file.</summary>
public sealed class SafeTensorsFileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lcm-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Path(string name = "lora.safetensors") => System.IO.Path.Combine(_root, name);

    /// <summary>A file of a given header text and data bytes; the header length is the text's unless given.</summary>
    private string Raw(string header, int dataBytes = 0, ulong? headerLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        string path = Path();
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Float_tensors_read_back_as_written(string dtype)
    {
        float[] values = [0f, 1f, -2.5f, 0.333f, 1000f, -1e-3f];
        SafeTensorsWriter.Write(Path(), [new("w", [2, 3], values, dtype), new("alpha", [], [4f], dtype)], new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafeTensorsFile.Open(Path());

        Assert.Equal(["alpha", "w"], file.Tensors.Keys.Order());
        var w = file.Tensors["w"];
        Assert.Equal(dtype, w.DType);
        Assert.Equal([2L, 3L], w.Shape);
        Assert.Equal(values.Select(v => SafeTensorsWriter.RoundTrip(v, dtype)), file.ReadFloats(w));
        Assert.Equal([4f], file.ReadFloats(file.Tensors["alpha"]));
        if (dtype != "F32") Assert.NotEqual(values, file.ReadFloats(w)); // really stored in half precision
    }

    public static TheoryData<string, string, int, ulong?> Malformed => new()
    {
        { "not JSON", "{\"w\":", 0, null },
        { "not an object", "[1, 2]", 0, null },
        { "entry not an object", "{\"w\": 3}", 0, null },
        { "no dtype", """{"w": {"shape": [1], "data_offsets": [0, 4]}}""", 4, null },
        { "unknown dtype", """{"w": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}}""", 4, null },
        { "negative dimension", """{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}""", 4, null },
        { "fractional dimension", """{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}""", 4, null },
        { "rank over 8", """{"w": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 4]}}""", 4, null },
        { "offsets past the data", """{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""", 4, null },
        { "offsets reversed", """{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}""", 4, null },
        { "offsets not a pair", """{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}""", 4, null },
        { "length not the shape's", """{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}""", 8, null },
        { "huge shape", """{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}}""", 4, null },
        { "overlapping tensors", """{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", 12, null },
        { "a name twice", """{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8, null },
        { "metadata not an object", """{"__metadata__": "pt"}""", 0, null },
        { "header length past the file", "{}", 0, 1000 },
        { "header length over the limit", "{}", 0, 200UL << 20 },
        { "header length absurd", "{}", 0, ulong.MaxValue },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_files_are_refused_with_the_file_and_the_problem(string why, string header, int dataBytes, ulong? headerLength)
    {
        string path = Raw(header, dataBytes, headerLength);

        var error = Assert.Throws<LoraException>(() => SafeTensorsFile.Open(path).Dispose());

        Assert.Equal(LoraException.InvalidFile, error.Code);
        Assert.StartsWith($"LoRA file '{path}' is not a valid safetensors file: ", error.Message);
        Assert.True(error.Message.Length > 80, $"{why}: '{error.Message}' says too little");
    }

    [Fact]
    public void A_tensor_over_a_gigabyte_is_refused_before_it_is_read()
    {
        const long bytes = (1L << 30) + 4;
        string path = Raw($$$"""{"w": {"dtype": "F32", "shape": [{{{bytes / 4}}}], "data_offsets": [0, {{{bytes}}}]}}""");
        using (var file = File.OpenWrite(path)) file.SetLength(file.Length + bytes); // sparse: no gigabyte written

        var error = Assert.Throws<LoraException>(() => SafeTensorsFile.Open(path));

        Assert.Contains($"tensor 'w': it is {bytes} bytes; tensors of more than {1L << 30} bytes are refused", error.Message);
    }

    [Fact]
    public void A_file_shorter_than_the_length_prefix_is_refused()
    {
        File.WriteAllBytes(Path(), [1, 2, 3]);

        var error = Assert.Throws<LoraException>(() => SafeTensorsFile.Open(Path()));

        Assert.Contains("too short", error.Message);
    }

    [Fact]
    public void A_missing_file_is_refused_as_unreadable()
    {
        var error = Assert.Throws<LoraException>(() => SafeTensorsFile.Open(Path("missing.safetensors")));

        Assert.Equal(LoraException.InvalidFile, error.Code);
        Assert.Contains("cannot be read", error.Message);
    }

    [Fact]
    public void Integer_tensors_are_listed_but_refused_as_lora_weights()
    {
        string path = Raw("""{"w": {"dtype": "I8", "shape": [4], "data_offsets": [0, 4]}}""", 4);
        using var file = SafeTensorsFile.Open(path);

        var error = Assert.Throws<LoraException>(() => file.ReadFloats(file.Tensors["w"]));

        Assert.Contains("dtype I8; LoRA weights must be F32, F16 or BF16", error.Message);
    }
}
