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

    /// <summary>A tensor of the element type the graph declares, holding its own copy of the data.</summary>
    public static OrtValue FloatTensor(ReadOnlySpan<float> data, long[] shape, TensorElementType type)
    {
        var tensor = Allocate(type, shape);
        Write(tensor, data);
        return tensor;
    }

    /// <summary>An integer or float tensor holding whole numbers (token ids) in the declared type.</summary>
    public static OrtValue NumberTensor(ReadOnlySpan<long> data, long[] shape, TensorElementType type) => type switch
    {
        TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(data.ToArray(), shape),
        TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(data.ToArray(), v => (int)v), shape),
        _ => FloatTensor(Array.ConvertAll(data.ToArray(), v => (float)v), shape, type),
    };

    /// <summary>A tensor in ONNX Runtime's own memory, for inputs and outputs written or read again and again.</summary>
    public static OrtValue Allocate(TensorElementType type, long[] shape) => OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, type, shape);

    /// <summary>Writes <paramref name="data"/> into a float32 or float16 tensor of as many elements.</summary>
    public static void Write(OrtValue tensor, ReadOnlySpan<float> data)
    {
        if (tensor.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float)
        {
            data.CopyTo(tensor.GetTensorMutableDataAsSpan<float>());
            return;
        }
        var halves = tensor.GetTensorMutableDataAsSpan<Float16>();
        for (int i = 0; i < data.Length; i++) halves[i] = new Float16(BitConverter.HalfToUInt16Bits((Half)data[i]));
    }

    /// <summary>Writes a whole number (a timestep) into a one-element int64, int32, float32 or float16 tensor.</summary>
    public static void WriteNumber(OrtValue tensor, long value)
    {
        switch (tensor.GetTensorTypeAndShape().ElementDataType)
        {
            case TensorElementType.Int64: tensor.GetTensorMutableDataAsSpan<long>()[0] = value; break;
            case TensorElementType.Int32: tensor.GetTensorMutableDataAsSpan<int>()[0] = (int)value; break;
            default: Write(tensor, [value]); break;
        }
    }

    public static float[] ToFloats(OrtValue value)
    {
        var floats = new float[value.GetTensorTypeAndShape().ElementCount];
        Read(value, floats);
        return floats;
    }

    /// <summary>Reads a float32 or float16 tensor into <paramref name="values"/>, as float32.</summary>
    public static void Read(OrtValue value, Span<float> values)
    {
        var type = value.GetTensorTypeAndShape().ElementDataType;
        if (type == TensorElementType.Float)
        {
            value.GetTensorDataAsSpan<float>().CopyTo(values);
            return;
        }
        if (type != TensorElementType.Float16) throw new ModelFormatException($"expected a float32 or float16 output, found {type}");
        var halves = value.GetTensorDataAsSpan<Float16>();
        for (int i = 0; i < values.Length; i++) values[i] = (float)BitConverter.UInt16BitsToHalf(halves[i].value);
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
