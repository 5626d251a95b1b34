using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using DataType = Onnx.TensorProto.Types.DataType;
using Google.Protobuf;
using Onnx;

namespace Lcm.Engine.Loaders.Lora;

/// <summary>Where an external initializer's bytes are: a file beside the graph, an offset and a length (null: to the end of the file).</summary>
internal sealed record ExternalRange(string Location, long Offset, long? Length);

/// <summary>
/// Reads a float32 or float16 initializer's values as float32 and encodes float32 values back in the
/// initializer's own type, from raw data in the graph or from its external data file.
/// </summary>
internal static class InitializerData
{
    /// <summary>The external data range of an initializer, or null when its bytes are in the graph.</summary>
    public static ExternalRange? External(TensorProto tensor, string graphDirectory)
    {
        if (tensor.DataLocation != TensorProto.Types.DataLocation.External) return null;
        string? Entry(string key) => tensor.ExternalData.FirstOrDefault(e => e.Key == key)?.Value;
        string location = Entry("location") ?? throw Unusable(tensor, "external data without a location");
        string full = Path.GetFullPath(Path.Combine(graphDirectory, location));
        // The location is read from a model file: it must stay inside the model's folder.
        if (Path.IsPathRooted(location) || !full.StartsWith(Path.GetFullPath(graphDirectory) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw Unusable(tensor, $"external data location '{location}' is outside the graph's folder");
        long offset = Entry("offset") is { } o ? (long.TryParse(o, out long parsedOffset) ? parsedOffset : -1) : 0;
        long? length = Entry("length") is { } l ? (long.TryParse(l, out long parsedLength) ? parsedLength : -1) : null;
        if (offset < 0 || length < 0)
            throw Unusable(tensor, $"external data offset '{Entry("offset")}' or length '{Entry("length")}' is not a byte count");
        return new ExternalRange(location, offset, length);
    }

    /// <summary>Copies the external data files of <paramref name="graph"/>'s initializers (but <paramref name="except"/>) from beside its source to <paramref name="folder"/>, for a rewritten copy of the graph.</summary>
    public static void CopyExternalFiles(GraphProto graph, string sourceDirectory, string folder, string? except = null)
    {
        foreach (string location in graph.Initializer.Select(t => External(t, sourceDirectory)?.Location).OfType<string>().Distinct().Where(l => l != except))
        {
            string copy = Path.Combine(folder, location);
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(Path.Combine(sourceDirectory, location), copy);
        }
    }

    public static float[] Read(TensorProto tensor, string graphDirectory)
    {
        byte[] bytes;
        if (External(tensor, graphDirectory) is { } range)
        {
            if (range.Length is { } length && length != ByteCount(tensor))
                throw Unusable(tensor, $"its external data is {length} bytes, not the {ByteCount(tensor)} its shape needs");
            bytes = new byte[ByteCount(tensor)];
            using var handle = File.OpenHandle(Path.Combine(graphDirectory, range.Location));
            if (RandomAccess.Read(handle, bytes, range.Offset) != bytes.Length)
                throw Unusable(tensor, $"its external data ends past the end of '{range.Location}'");
        }
        else if (!tensor.RawData.IsEmpty || ByteCount(tensor) == 0)
            bytes = tensor.RawData.ToByteArray();
        else
            throw Unusable(tensor, "its values are in typed fields rather than raw data");
        if (bytes.Length != ByteCount(tensor)) throw Unusable(tensor, $"it holds {bytes.Length} bytes, not the {ByteCount(tensor)} its shape needs");

        var values = new float[bytes.Length / ElementSize(tensor)];
        if (tensor.DataType == (int)DataType.Float) MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
        else TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), values);
        return values;
    }

    /// <summary>The values in the initializer's type (float32 or float16, rounded to nearest even), as raw bytes.</summary>
    public static byte[] Encode(TensorProto tensor, float[] values)
    {
        if (tensor.DataType == (int)DataType.Float) return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        var halves = new Half[values.Length];
        TensorPrimitives.ConvertToHalf(values, halves);
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }

    /// <summary>Replaces an in-graph initializer's values.</summary>
    public static void SetRaw(TensorProto tensor, byte[] bytes) => tensor.RawData = ByteString.CopyFrom(bytes);

    private static int ElementSize(TensorProto tensor) => tensor.DataType switch
    {
        (int)DataType.Float => 4,
        (int)DataType.Float16 => 2,
        _ => throw Unusable(tensor, $"it is {(DataType)tensor.DataType}, not float32 or float16"),
    };

    private static long ByteCount(TensorProto tensor) => tensor.Dims.Aggregate(1L, (a, b) => a * b) * ElementSize(tensor);

    private static LoraException Unusable(TensorProto tensor, string why) =>
        new(LoraException.Mismatch, $"weight '{tensor.Name}' cannot be patched: {why}");
}
