using Onnx;

namespace Lcm.SyntheticModels;

/// <summary>
/// The single external data file of a model (<c>model.onnx_data</c>), written tensor by tensor so a
/// multi-gigabyte model never sits in memory.
/// </summary>
internal sealed class ExternalDataFile(string path) : IDisposable
{
    // ONNX Runtime memory-maps external tensors whose offset is a multiple of the allocation
    // granularity; 64 KiB is that on Windows and a multiple of the page size elsewhere.
    public const int Alignment = 64 * 1024;

    private readonly FileStream stream = new(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);

    /// <summary>Appends a tensor's bytes (written by <paramref name="write"/>) at the next aligned offset and points the tensor at them.</summary>
    public void Append(TensorProto tensor, Action<Stream> write)
    {
        long padding = (Alignment - stream.Position % Alignment) % Alignment;
        stream.Write(new byte[padding]);
        long offset = stream.Position;
        write(stream);

        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(Entry("location", Path.GetFileName(path)));
        tensor.ExternalData.Add(Entry("offset", offset.ToString()));
        tensor.ExternalData.Add(Entry("length", (stream.Position - offset).ToString()));
    }

    public void Dispose() => stream.Dispose();

    private static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };
}
