using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Lcm.SyntheticModels;

/// <summary>A tensor to write: float32 values stored as F32, F16 or BF16.</summary>
internal sealed record SafeTensorValues(string Name, long[] Shape, float[] Values, string DType = "F32");

/// <summary>Writes safetensors files as the reference implementation does (header padded with spaces to 8 bytes), for self-made LoRAs.</summary>
internal static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<SafeTensorValues> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is not null) header["__metadata__"] = metadata;
        var data = new MemoryStream();
        foreach (var tensor in tensors)
        {
            long start = data.Length;
            data.Write(Encode(tensor));
            header[tensor.Name] = new { dtype = tensor.DType, shape = tensor.Shape, data_offsets = new[] { start, data.Length } };
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        file.Write(length);
        file.Write(json);
        file.Write(Encoding.ASCII.GetBytes(new string(' ', padded - json.Length)));
        data.Position = 0;
        data.CopyTo(file);
    }

    /// <summary>The value a float32 becomes when stored as <paramref name="dtype"/> and read back.</summary>
    public static float RoundTrip(float value, string dtype) => dtype switch
    {
        "F32" => value,
        "F16" => (float)(Half)value,
        "BF16" => BitConverter.Int32BitsToSingle(BFloat16Bits(value) << 16),
        _ => throw new ArgumentException($"unsupported dtype {dtype}", nameof(dtype)),
    };

    private static byte[] Encode(SafeTensorValues tensor) => tensor.DType switch
    {
        "F32" => MemoryMarshal.AsBytes(tensor.Values.AsSpan()).ToArray(),
        "F16" => MemoryMarshal.AsBytes(Array.ConvertAll(tensor.Values, v => (Half)v).AsSpan()).ToArray(),
        "BF16" => MemoryMarshal.AsBytes(Array.ConvertAll(tensor.Values, v => (ushort)BFloat16Bits(v)).AsSpan()).ToArray(),
        _ => throw new ArgumentException($"unsupported dtype {tensor.DType}", nameof(tensor)),
    };

    // Round to nearest even on the 16 bits dropped, as PyTorch does.
    private static int BFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (int)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
}
