using Lcm.Engine.Loaders;
using Lcm.Engine.Schedulers;
using Lcm.Engine.Text;
using Lcm.Engine.Pipelines;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>
/// The UNet graph: (sample, timestep, encoder_hidden_states[, timestep_cond]) to out_sample. How the
/// guidance scale steers it is <see cref="IGuidance"/>'s; this only feeds the graph. Element types,
/// the timestep's rank and the fixed dimensions come from the graph's metadata.
/// </summary>
public sealed class Unet : IDisposable
{
    public const int LatentChannels = 4;
    private static readonly string[] KnownInputs = ["sample", "timestep", "encoder_hidden_states", "timestep_cond"];
    private readonly OnnxGraph _graph;
    private readonly TensorElementType _sampleType, _timestepType, _hiddenType;
    private readonly TensorElementType? _condType;
    private readonly long[] _timestepShape;

    public Unet(OnnxGraph graph, int? configuredTimeCondDim)
    {
        _graph = graph;
        var sample = graph.RequireInput("sample", OnnxGraph.FloatTypes, 4);
        var timestep = graph.RequireInput("timestep",
            [TensorElementType.Int64, TensorElementType.Int32, TensorElementType.Float, TensorElementType.Float16], 0, 1);
        var hidden = graph.RequireInput("encoder_hidden_states", OnnxGraph.FloatTypes, 3);
        graph.RequireOutput("out_sample", OnnxGraph.FloatTypes, 4);
        if (graph.Session.InputMetadata.Keys.FirstOrDefault(name => !KnownInputs.Contains(name)) is { } unknown)
            throw new ModelFormatException($"'{graph.Path}' has input '{unknown}', which the engine cannot feed; a UNet takes {string.Join(", ", KnownInputs)} (the last for distilled LCMs only)");
        (_sampleType, _timestepType, _hiddenType) = (sample.ElementDataType, timestep.ElementDataType, hidden.ElementDataType);
        _timestepShape = timestep.Dimensions.Length == 0 ? [] : [1];
        FixedBatch = OnnxGraph.FixedDimension(sample, 0);
        FixedLatentHeight = OnnxGraph.FixedDimension(sample, 2);
        FixedLatentWidth = OnnxGraph.FixedDimension(sample, 3);
        HiddenSize = OnnxGraph.FixedDimension(hidden, 2);
        if (!graph.HasInput("timestep_cond")) return;
        var cond = graph.RequireInput("timestep_cond", OnnxGraph.FloatTypes, 2);
        _condType = cond.ElementDataType;
        TimeCondDim = OnnxGraph.FixedDimension(cond, 1) ?? configuredTimeCondDim
            ?? throw new ModelFormatException($"'{graph.Path}' input 'timestep_cond' has a symbolic width and unet/config.json has no 'time_cond_proj_dim'");
    }

    public int? FixedBatch { get; }
    /// <summary>Bytes of one element of the graph's activations: 2 for a float16 UNet.</summary>
    public int ElementBytes => _sampleType == TensorElementType.Float16 ? 2 : 4;
    public int? FixedLatentHeight { get; }
    public int? FixedLatentWidth { get; }
    public int? HiddenSize { get; }
    /// <summary>The guidance embedding's width; null for a UNet without <c>timestep_cond</c>.</summary>
    public int? TimeCondDim { get; }

    public OnnxGraph Graph => _graph;

    public void Dispose() => _graph.Dispose();

    /// <summary>
    /// The UNet's prediction for latents of <paramref name="shape"/> at one timestep, given their
    /// prompt embeddings [batch, 77, hidden] and, for a distilled LCM, <c>timestep_cond</c>
    /// [batch, TimeCondDim]. Runs in parts of the graph's fixed batch size when the batch is larger.
    /// </summary>
    public float[] Predict(float[] samples, LatentShape shape, int timestep, float[] promptEmbeds, float[]? timestepCond, RunOptions runOptions)
    {
        int batch = shape.Batch, part = Math.Min(FixedBatch ?? batch, batch);
        if (part == batch) return Run(samples, shape, timestep, promptEmbeds, timestepCond, runOptions);
        var output = new float[samples.Length];
        int sampleSize = shape.ImageLength, embedSize = promptEmbeds.Length / batch, condSize = (timestepCond?.Length ?? 0) / batch;
        for (int first = 0; first < batch; first += part)
            Run(samples[(first * sampleSize)..((first + part) * sampleSize)], shape with { Batch = part }, timestep,
                    promptEmbeds[(first * embedSize)..((first + part) * embedSize)],
                    timestepCond?[(first * condSize)..((first + part) * condSize)], runOptions)
                .CopyTo(output, first * sampleSize);
        return output;
    }

    private float[] Run(float[] samples, LatentShape shape, int timestep, float[] promptEmbeds, float[]? timestepCond, RunOptions runOptions)
    {
        int batch = shape.Batch;
        using var sample = OnnxGraph.FloatTensor(samples, shape.Dimensions, _sampleType);
        using var time = OnnxGraph.NumberTensor([timestep], _timestepShape, _timestepType);
        using var hidden = OnnxGraph.FloatTensor(promptEmbeds, [batch, ClipTokenizer.MaxLength, promptEmbeds.Length / batch / ClipTokenizer.MaxLength], _hiddenType);
        using var cond = timestepCond is null ? null : OnnxGraph.FloatTensor(timestepCond, [batch, TimeCondDim!.Value], _condType!.Value);
        var inputs = new Dictionary<string, OrtValue>
        {
            ["sample"] = sample,
            ["timestep"] = time,
            ["encoder_hidden_states"] = hidden,
        };
        if (cond is not null) inputs["timestep_cond"] = cond;
        return _graph.Run(inputs, "out_sample", runOptions);
    }
}
