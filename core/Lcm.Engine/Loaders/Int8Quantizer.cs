using System.Diagnostics;
using System.Runtime.InteropServices;
using DataType = Onnx.TensorProto.Types.DataType;
using Google.Protobuf;
using Lcm.Engine.Loaders.Lora;
using Microsoft.Extensions.Logging;
using Onnx;

namespace Lcm.Engine.Loaders;

/// <summary>
/// Dynamic int8 quantisation of a float32 graph's MatMul weights, as ONNX Runtime's
/// <c>quantize_dynamic</c> does for them: each MatMul whose second input is a constant [K, N] matrix
/// becomes <c>com.microsoft.DynamicQuantizeMatMul</c> over an int8 copy of it, symmetric per output
/// column (scale = max |w| / 127, zero point 0); the activations are quantised to uint8 on the fly,
/// which VNNI-capable CPUs multiply at four times float32's rate. Convolutions stay float32.
/// Quantised graphs are cached like merged ones, by the source graph's fingerprint.
/// </summary>
internal sealed class Int8Quantizer(string directory, ILogger logger)
{
    private const int FormatVersion = 1;
    private const string DataFile = "model.int8.data";
    // Below this a matrix's MatMul costs less than quantising its activations.
    private const long MinWeights = 64 * 64;

    private readonly CacheEntries _entries = new(directory, logger);

    /// <summary>The quantised copy of <paramref name="sourceGraph"/>, written first when missing; the source itself when it has nothing to quantise.</summary>
    public string GetOrQuantize(string sourceGraph)
    {
        string graph = Path.GetFileName(Path.GetDirectoryName(sourceGraph)!);
        string key = $"{graph}-{PreparedModelCache.Hash($"int8 v{FormatVersion}|{PreparedModelCache.Fingerprint(sourceGraph)}")}";
        string entry = _entries.GetOrCreate(key, folder => Write(sourceGraph, folder));
        string quantized = Path.Combine(entry, Path.GetFileName(sourceGraph));
        return File.Exists(quantized) ? quantized : sourceGraph;
    }

    private void Write(string sourceGraph, string folder)
    {
        var started = Stopwatch.StartNew();
        string sourceDirectory = Path.GetDirectoryName(sourceGraph)!;
        ModelProto model;
        using (var stream = File.OpenRead(sourceGraph)) model = ModelProto.Parser.ParseFrom(stream);
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var quantized = new Dictionary<string, string[]>(StringComparer.Ordinal);
        using var data = File.Create(Path.Combine(folder, DataFile));
        int nodes = 0;
        foreach (var node in model.Graph.Node)
        {
            if (node.OpType != "MatMul" || node.Domain is { Length: > 0 } || node.Input.Count != 2
                || !initializers.TryGetValue(node.Input[1], out var weight) || weight.DataType != (int)DataType.Float
                || weight.Dims.Count != 2 || weight.Dims[0] * weight.Dims[1] < MinWeights)
                continue;
            if (!quantized.TryGetValue(weight.Name, out var inputs))
                quantized[weight.Name] = inputs = AddQuantized(model.Graph, weight, InitializerData.Read(weight, sourceDirectory), data);
            node.OpType = "DynamicQuantizeMatMul";
            node.Domain = "com.microsoft";
            node.Input[1] = inputs[0];
            node.Input.Add(inputs[1]);
            node.Input.Add(inputs[2]);
            nodes++;
        }
        if (nodes == 0)
        {
            logger.LogInformation("{Source} has no float32 MatMul weights to quantise; it runs as it is", sourceGraph);
            data.Dispose();
            File.Delete(Path.Combine(folder, DataFile));
            return;
        }
        // The float weights no MatMul reads any more go; the rest keep their external data, copied beside the graph.
        foreach (string name in quantized.Keys.Where(name => !model.Graph.Node.Any(n => n.Input.Contains(name))).ToArray())
            model.Graph.Initializer.Remove(initializers[name]);
        InitializerData.CopyExternalFiles(model.Graph, sourceDirectory, folder, except: DataFile);
        if (!model.OpsetImport.Any(o => o.Domain == "com.microsoft")) model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        using (var output = File.Create(Path.Combine(folder, Path.GetFileName(sourceGraph)))) model.WriteTo(output);
        logger.LogInformation("Quantised {Count} MatMul weights of {Source} to int8 in {Ms:F0} ms", quantized.Count, sourceGraph, started.Elapsed.TotalMilliseconds);
    }

    /// <summary>The int8 weight, its per-column scales and zero points, appended to the data file; their names.</summary>
    private static string[] AddQuantized(GraphProto graph, TensorProto weight, float[] values, Stream data)
    {
        int rows = checked((int)weight.Dims[0]), columns = checked((int)weight.Dims[1]);
        var scales = new float[columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                scales[c] = Math.Max(scales[c], Math.Abs(values[r * columns + c]));
        for (int c = 0; c < columns; c++) scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        var q = new sbyte[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                q[r * columns + c] = (sbyte)Math.Clamp(MathF.Round(values[r * columns + c] / scales[c], MidpointRounding.ToEven), -127f, 127f);
        string name = weight.Name;
        graph.Initializer.Add(External($"{name}_int8", DataType.Int8, [rows, columns], MemoryMarshal.AsBytes(q.AsSpan()), data));
        graph.Initializer.Add(External($"{name}_scale", DataType.Float, [columns], MemoryMarshal.AsBytes(scales.AsSpan()), data));
        graph.Initializer.Add(External($"{name}_zero_point", DataType.Int8, [columns], new byte[columns], data));
        return [$"{name}_int8", $"{name}_scale", $"{name}_zero_point"];
    }

    private static TensorProto External(string name, DataType type, long[] dims, ReadOnlySpan<byte> bytes, Stream data)
    {
        long offset = data.Position;
        data.Write(bytes);
        var tensor = new TensorProto { Name = name, DataType = (int)type, DataLocation = TensorProto.Types.DataLocation.External };
        tensor.Dims.AddRange(dims);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = DataFile });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return tensor;
    }
}
