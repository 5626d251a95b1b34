using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Lcm.Engine.Loaders.Lora;

/// <summary>One tensor's entry in a safetensors header; <see cref="Start"/> and <see cref="End"/> are offsets into the data area.</summary>
internal sealed record SafeTensor(string Name, string DType, long[] Shape, long Start, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reads a safetensors file: an 8-byte little-endian header length, a JSON header of
/// <c>{name: {dtype, shape, data_offsets}}</c> (plus an optional <c>__metadata__</c>), then the data.
/// Every header entry is checked against the file before any tensor is read, since the file comes
/// from outside: a lying header gives a <see cref="LoraException"/>, never an out-of-range read.
/// Tensors are read on demand, so a large file is never held in memory whole.
/// </summary>
internal sealed class SafeTensorsFile : IDisposable
{
    /// <summary>The reference implementation's limit on the JSON header.</summary>
    public const long MaxHeaderBytes = 100L << 20;
    public const int MaxTensors = 100_000;
    public const int MaxRank = 8;
    /// <summary>LoRA tensors are megabytes; a bigger one is read into memory whole, so it is refused.</summary>
    public const long MaxTensorBytes = 1L << 30;

    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    private readonly SafeFileHandle _handle;
    private readonly long _dataStart;

    private SafeTensorsFile(string path, SafeFileHandle handle, long dataStart, IReadOnlyDictionary<string, SafeTensor> tensors)
    {
        (Path, _handle, _dataStart, Tensors) = (path, handle, dataStart, tensors);
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensor> Tensors { get; }

    public static SafeTensorsFile Open(string path)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LoraException(LoraException.InvalidFile, $"LoRA file '{path}' cannot be read: {e.Message}", e);
        }
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            var (dataStart, tensors) = ReadHeader(path, handle, fileLength);
            return new SafeTensorsFile(path, handle, dataStart, tensors);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>A tensor's values as float32, from F32, F16 or BF16 data.</summary>
    public float[] ReadFloats(SafeTensor tensor)
    {
        var bytes = new byte[tensor.End - tensor.Start];
        if (RandomAccess.Read(_handle, bytes, _dataStart + tensor.Start) != bytes.Length)
            throw Malformed(Path, $"tensor '{tensor.Name}' ends past the end of the file");
        var values = new float[tensor.ElementCount];
        switch (tensor.DType)
        {
            case "F32":
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
                break;
            case "F16":
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), values);
                break;
            case "BF16":
                // bfloat16 is the top half of a float32.
                var raw = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < values.Length; i++) values[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                break;
            default:
                throw Malformed(Path, $"tensor '{tensor.Name}' has dtype {tensor.DType}; LoRA weights must be F32, F16 or BF16");
        }
        return values;
    }

    public void Dispose() => _handle.Dispose();

    private static (long DataStart, Dictionary<string, SafeTensor> Tensors) ReadHeader(string path, SafeFileHandle handle, long fileLength)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (fileLength < 8 || RandomAccess.Read(handle, prefix, 0) != 8)
            throw Malformed(path, $"the file is {fileLength} bytes, too short for the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw Malformed(path, $"the header length is {headerLength} bytes; at most {MaxHeaderBytes} are accepted");
        if (8 + (long)headerLength > fileLength)
            throw Malformed(path, $"the header length is {headerLength} bytes but only {fileLength - 8} follow it");
        var header = new byte[headerLength];
        RandomAccess.Read(handle, header, 8);
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw Malformed(path, $"the header is not valid JSON: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Malformed(path, $"the header must be a JSON object, found {document.RootElement.ValueKind}");
            var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw Malformed(path, $"the header names '{property.Name}' twice");
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw Malformed(path, "'__metadata__' must be an object of strings");
                    continue;
                }
                if (tensors.Count == MaxTensors) throw Malformed(path, $"the file has more than {MaxTensors} tensors");
                tensors.Add(property.Name, ReadEntry(path, property.Name, property.Value, dataLength));
            }
            CheckNoOverlap(path, tensors.Values);
            return (dataStart, tensors);
        }
    }

    private static SafeTensor ReadEntry(string path, string name, JsonElement entry, long dataLength)
    {
        string Problem(string what) => $"tensor '{name}': {what}";
        if (entry.ValueKind != JsonValueKind.Object) throw Malformed(path, Problem($"the entry must be an object, found {entry.ValueKind}"));
        if (!entry.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw Malformed(path, Problem("'dtype' must be a string"));
        if (!ElementSizes.TryGetValue(dtype.GetString()!, out int elementSize))
            throw Malformed(path, Problem($"unknown dtype '{dtype.GetString()}'"));
        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array || shapeElement.GetArrayLength() > MaxRank)
            throw Malformed(path, Problem($"'shape' must be an array of at most {MaxRank} non-negative integers"));
        var shape = new long[shapeElement.GetArrayLength()];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (!shapeElement[i].TryGetInt64(out shape[i]) || shape[i] < 0)
                throw Malformed(path, Problem($"'shape' must be an array of at most {MaxRank} non-negative integers, found {shapeElement.GetRawText()}"));
            // Bounded by the data area, so the products below cannot overflow.
            count = shape[i] == 0 ? 0 : count > dataLength / shape[i] ? dataLength + 1 : count * shape[i];
        }
        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out long start) || !offsets[1].TryGetInt64(out long end))
            throw Malformed(path, Problem("'data_offsets' must be [begin, end]"));
        if (start < 0 || end < start || end > dataLength)
            throw Malformed(path, Problem($"data_offsets [{start}, {end}] are outside the {dataLength}-byte data area"));
        if (count > dataLength || count * elementSize != end - start)
            throw Malformed(path, Problem($"shape [{string.Join(", ", shape)}] of {dtype.GetString()} needs {(count > dataLength ? "more" : count * elementSize)} bytes but data_offsets give {end - start}"));
        if (end - start > MaxTensorBytes)
            throw Malformed(path, Problem($"it is {end - start} bytes; tensors of more than {MaxTensorBytes} bytes are refused"));
        return new SafeTensor(name, dtype.GetString()!, shape, start, end);
    }

    private static void CheckNoOverlap(string path, IEnumerable<SafeTensor> tensors)
    {
        SafeTensor? previous = null;
        foreach (var tensor in tensors.Where(t => t.End > t.Start).OrderBy(t => t.Start))
        {
            if (previous is not null && tensor.Start < previous.End)
                throw Malformed(path, $"tensors '{previous.Name}' and '{tensor.Name}' overlap in the data area");
            previous = tensor;
        }
    }

    private static LoraException Malformed(string path, string problem) =>
        new(LoraException.InvalidFile, $"LoRA file '{path}' is not a valid safetensors file: {problem}");
}
