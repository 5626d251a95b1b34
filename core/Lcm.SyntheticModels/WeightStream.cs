using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Lcm.SyntheticModels;

/// <summary>
/// Uniform pseudo-random weights from SplitMix64. The algorithm is spelled out here (unlike
/// System.Random's) so the same seed gives the same model files on every runtime.
/// </summary>
internal struct WeightStream
{
    private ulong state;

    /// <summary>A stream per tensor name, so a tensor's values do not depend on which tensors come before it.</summary>
    public WeightStream(int seed, string tensorName)
    {
        ulong hash = 14695981039346656037UL; // FNV-1a
        foreach (char c in tensorName)
            hash = (hash ^ c) * 1099511628211UL;
        state = hash ^ (ulong)(uint)seed;
        Next(); // spread the seed bits before the first value
    }

    private ulong Next()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Writes <paramref name="count"/> values as ONNX raw data (float32 or float16), chunk by chunk.</summary>
    public void WriteTo(Stream destination, long count, float limit, bool float16)
    {
        const int chunk = 1 << 18; // even, so chunking does not change the values
        var floats = new float[(int)Math.Min(chunk, count)];
        var halves = float16 ? new Half[floats.Length] : null;
        for (long done = 0; done < count; done += floats.Length)
        {
            var part = floats.AsSpan(0, (int)Math.Min(floats.Length, count - done));
            Fill(part, limit);
            if (halves == null)
                destination.Write(MemoryMarshal.AsBytes(part));
            else
            {
                var halfPart = halves.AsSpan(0, part.Length);
                TensorPrimitives.ConvertToHalf(part, halfPart);
                destination.Write(MemoryMarshal.AsBytes(halfPart));
            }
        }
    }

    /// <summary>The next <paramref name="count"/> values in memory, rounded through float16 when the model stores them so.</summary>
    public float[] Values(long count, float limit, bool float16)
    {
        var values = new float[count];
        Fill(values, limit);
        if (float16)
            for (int i = 0; i < values.Length; i++) values[i] = (float)(Half)values[i];
        return values;
    }

    /// <summary>Writes given values as ONNX raw data (float32 or float16).</summary>
    public static void Write(Stream destination, float[] values, bool float16)
    {
        if (!float16)
        {
            destination.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }
        var halves = new Half[values.Length];
        TensorPrimitives.ConvertToHalf(values, halves);
        destination.Write(MemoryMarshal.AsBytes(halves.AsSpan()));
    }

    /// <summary>
    /// Fills with values in [-limit, limit), two per 64 random bits. Consecutive calls continue the
    /// sequence, so filling in chunks of even length gives the same values as filling at once.
    /// </summary>
    private void Fill(Span<float> values, float limit)
    {
        int i = 0;
        for (; i + 1 < values.Length; i += 2)
        {
            ulong r = Next();
            values[i] = Symmetric((uint)r) * limit;
            values[i + 1] = Symmetric((uint)(r >> 32)) * limit;
        }
        if (i < values.Length)
            values[i] = Symmetric((uint)Next()) * limit;
    }

    // 23 random mantissa bits under exponent 1 give [2, 4); shifting by 3 gives [-1, 1).
    private static float Symmetric(uint bits) => BitConverter.Int32BitsToSingle(0x40000000 | (int)(bits >> 9)) - 3f;
}
