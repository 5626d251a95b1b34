using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Loaders;

/// <summary>
/// One graph of the model folder with its session. Checks names, element types and ranks against
/// the session's own metadata, and converts between float arrays and the graph's element types.
/// </summary>
public sealed class OnnxGraph : IDisposable
{
    public static readonly TensorElementType[] FloatTypes = [TensorElementType.Float, TensorElementType.Float16];

    public OnnxGraph(string path, InferenceSession session)
    {
        Path = path;
        Session = session;
    }

    public string Path { get; }
    public InferenceSession Session { get; }

    public bool HasInput(string name) => Session.InputMetadata.ContainsKey(name);

    public NodeMetadata RequireInput(string name, TensorElementType[] types, params int[] ranks) =>
        Require(Session.InputMetadata, "input", name, types, ranks);

    public NodeMetadata RequireOutput(string name, TensorElementType[] types, params int[] ranks) =>
        Require(Session.OutputMetadata, "output", name, types, ranks);

    /// <summary>The fixed size of a dimension, or null when it is symbolic.</summary>
    public static int? FixedDimension(NodeMetadata metadata, int axis) =>
        metadata.Dimensions.Length > axis && metadata.Dimensions[axis] > 0 ? metadata.Dimensions[axis] : null;

    /// <summary>Runs the graph and returns the named output as float32, whatever its element type.</summary>
    public float[] Run(IReadOnlyDictionary<string, OrtValue> inputs, string output, RunOptions runOptions) =>
        Run(inputs, [output], runOptions)[0];

    /// <summary>Runs the graph and returns each named output, in the order asked, as float32.</summary>
    public float[][] Run(IReadOnlyDictionary<string, OrtValue> inputs, string[] outputs, RunOptions runOptions)
    {
        using var results = Session.Run(runOptions, inputs.Keys.ToArray(), inputs.Values.ToArray(), outputs);
        return results.Select(ToFloats).ToArray();
    }

    /// <summary>A tensor of the element type the graph declares; the OrtValue pins its own copy of the data.</summary>
    public static OrtValue FloatTensor(ReadOnlySpan<float> data, long[] shape, TensorElementType type)
    {
        if (type == TensorElementType.Float) return OrtValue.CreateTensorValueFromMemory(data.ToArray(), shape);
        var halves = new Float16[data.Length];
        for (int i = 0; i < data.Length; i++) halves[i] = new Float16(BitConverter.HalfToUInt16Bits((Half)data[i]));
        return OrtValue.CreateTensorValueFromMemory(halves, shape);
    }

    /// <summary>An integer or float tensor holding whole numbers (token ids, timesteps) in the declared type.</summary>
    public static OrtValue NumberTensor(ReadOnlySpan<long> data, long[] shape, TensorElementType type) => type switch
    {
        TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(data.ToArray(), shape),
        TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(data.ToArray(), v => (int)v), shape),
        _ => FloatTensor(Array.ConvertAll(data.ToArray(), v => (float)v), shape, type),
    };

    public static float[] ToFloats(OrtValue value)
    {
        var type = value.GetTensorTypeAndShape().ElementDataType;
        if (type == TensorElementType.Float) return value.GetTensorDataAsSpan<float>().ToArray();
        if (type != TensorElementType.Float16) throw new ModelFormatException($"expected a float32 or float16 output, found {type}");
        var halves = value.GetTensorDataAsSpan<Float16>();
        var floats = new float[halves.Length];
        for (int i = 0; i < floats.Length; i++) floats[i] = (float)BitConverter.UInt16BitsToHalf(halves[i].value);
        return floats;
    }

    public void Dispose() => Session.Dispose();

    private NodeMetadata Require(IReadOnlyDictionary<string, NodeMetadata> all, string kind, string name,
        TensorElementType[] types, int[] ranks)
    {
        if (!all.TryGetValue(name, out var metadata))
            throw new ModelFormatException($"'{Path}' has no {kind} '{name}'; found {kind}s: {string.Join(", ", all.Keys)}");
        if (!metadata.IsTensor || !types.Contains(metadata.ElementDataType))
            throw new ModelFormatException($"'{Path}' {kind} '{name}' must be a tensor of {string.Join(" or ", types)}, found {(metadata.IsTensor ? metadata.ElementDataType : metadata.OnnxValueType)}");
        if (ranks.Length > 0 && !ranks.Contains(metadata.Dimensions.Length))
            throw new ModelFormatException($"'{Path}' {kind} '{name}' must have rank {string.Join(" or ", ranks)}, found rank {metadata.Dimensions.Length} [{string.Join(", ", metadata.Dimensions)}]");
        return metadata;
    }
}
