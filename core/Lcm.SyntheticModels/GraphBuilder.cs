using DataType = Onnx.TensorProto.Types.DataType;
using Google.Protobuf;
using Onnx;

namespace Lcm.SyntheticModels;

/// <summary>A tensor dimension: a fixed size or a symbolic name (dim_param).</summary>
internal readonly record struct Dim(long Value, string? Param)
{
    public static implicit operator Dim(long value) => new(value, null);
    public static implicit operator Dim(string param) => new(0, param);
}

/// <summary>
/// Builds one ONNX graph that computes in float32 whatever the model's float type is: with
/// <c>float16</c> set, float inputs, outputs and weights are float16 and Cast at the edges,
/// because ONNX Runtime's CPU provider lacks most float16 kernels.
/// </summary>
internal sealed class GraphBuilder(string name, int seed, bool float16)
{
    private readonly GraphProto graph = new() { Name = name };
    private int nextValue;

    private DataType FloatType => float16 ? DataType.Float16 : DataType.Float;

    /// <summary>Declares an input as is and returns its name.</summary>
    public string Input(string inputName, DataType type, params Dim[] shape)
    {
        graph.Input.Add(ValueInfo(inputName, type, shape));
        return inputName;
    }

    /// <summary>Declares a float input of the model's float type and returns it as float32.</summary>
    public string FloatInput(string inputName, params Dim[] shape) =>
        ToFloat32(Input(inputName, FloatType, shape));

    /// <summary>Makes float32 <paramref name="value"/> the output <paramref name="outputName"/> in the model's float type.</summary>
    public void FloatOutput(string outputName, string value, params Dim[] shape)
    {
        graph.Node.Add(float16
            ? MakeNode("Cast", [value], outputName, [IntAttribute("to", (long)DataType.Float16)])
            : MakeNode("Identity", [value], outputName));
        graph.Output.Add(ValueInfo(outputName, FloatType, shape));
    }

    /// <summary>Adds a node with one output and returns that output's name.</summary>
    public string Node(string opType, string[] inputs, params AttributeProto[] attributes)
    {
        string output = $"{opType.ToLowerInvariant()}_{nextValue++}";
        graph.Node.Add(MakeNode(opType, inputs, output, attributes));
        return output;
    }

    /// <summary>Adds a node named as exporters scope them (<c>/down_blocks.0/resnets.0/conv1/Conv</c>) and returns its output.</summary>
    public string ScopedNode(string nodeName, string opType, string[] inputs, params AttributeProto[] attributes)
    {
        string output = $"{nodeName}_output_0";
        var node = MakeNode(opType, inputs, output, attributes);
        node.Name = nodeName;
        graph.Node.Add(node);
        return output;
    }

    /// <summary>
    /// Adds a seeded weight, uniform in ±<paramref name="limit"/>, stored in the model's float type
    /// (in <paramref name="external"/> when given), and returns it as float32.
    /// </summary>
    public string Weight(string weightName, long[] dims, float limit, ExternalDataFile? external = null)
    {
        var values = new WeightStream(seed, $"{name}/{weightName}");
        long count = dims.Aggregate(1L, (a, b) => a * b);
        return AddWeight(weightName, dims, destination => values.WriteTo(destination, count, limit, float16), external);
    }

    /// <summary>Adds a weight of the given values, stored in the model's float type, and returns it as float32.</summary>
    public string Weight(string weightName, long[] dims, float[] values, ExternalDataFile? external = null) =>
        AddWeight(weightName, dims, destination => WeightStream.Write(destination, values, float16), external);

    /// <summary>The values <see cref="Weight(string, long[], float, ExternalDataFile?)"/> would write for a name, as float32 in the model's precision.</summary>
    public float[] SeededValues(string weightName, long count, float limit) =>
        new WeightStream(seed, $"{name}/{weightName}").Values(count, limit, float16);

    private string AddWeight(string weightName, long[] dims, Action<Stream> write, ExternalDataFile? external)
    {
        var tensor = new TensorProto { Name = weightName, DataType = (int)FloatType };
        tensor.Dims.Add(dims);
        if (external != null)
            external.Append(tensor, write);
        else
        {
            using var bytes = new MemoryStream();
            write(bytes);
            tensor.RawData = ByteString.CopyFrom(bytes.GetBuffer(), 0, (int)bytes.Length);
        }
        graph.Initializer.Add(tensor);
        return ToFloat32(weightName);
    }

    /// <summary>A float32 scalar constant.</summary>
    public string Scalar(float value)
    {
        var tensor = new TensorProto { Name = $"scalar_{nextValue++}", DataType = (int)DataType.Float };
        tensor.FloatData.Add(value);
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>
    /// A float32 constant that is no weight (sinusoid frequencies, a mask): a Constant node rather than
    /// an initializer, so the initializers are exactly the model's parameters.
    /// </summary>
    public string Constant(float[] values, params long[] dims)
    {
        var tensor = new TensorProto { DataType = (int)DataType.Float };
        tensor.Dims.Add(dims);
        tensor.FloatData.Add(values);
        return Node("Constant", [], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
    }

    /// <summary>An int64 vector constant, for shape-like inputs (axes, repeats, slice bounds).</summary>
    public string Int64s(params long[] values)
    {
        var tensor = new TensorProto { Name = $"ints_{nextValue++}", DataType = (int)DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    public static AttributeProto IntAttribute(string attributeName, long value) =>
        new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto FloatAttribute(string attributeName, float value) =>
        new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto IntsAttribute(string attributeName, params long[] values)
    {
        var attribute = new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    public void Save(string path)
    {
        var model = new ModelProto
        {
            IrVersion = 10,
            ProducerName = "lcm-functions-test-model",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, model.ToByteArray());
    }

    private string ToFloat32(string value) =>
        float16 ? Node("Cast", [value], IntAttribute("to", (long)DataType.Float)) : value;

    private static NodeProto MakeNode(string opType, string[] inputs, string output, AttributeProto[]? attributes = null)
    {
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.Add(inputs);
        node.Output.Add(output);
        if (attributes != null)
            node.Attribute.Add(attributes);
        return node;
    }

    private static ValueInfoProto ValueInfo(string valueName, DataType type, Dim[] shape)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var dim in shape)
            tensorType.Shape.Dim.Add(dim.Param != null
                ? new TensorShapeProto.Types.Dimension { DimParam = dim.Param }
                : new TensorShapeProto.Types.Dimension { DimValue = dim.Value });
        return new ValueInfoProto { Name = valueName, Type = new TypeProto { TensorType = tensorType } };
    }
}
