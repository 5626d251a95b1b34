using Lcm.Core.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Core.Generation;

/// <summary>
/// The LCM UNet graph: (sample, timestep, encoder_hidden_states, timestep_cond) to out_sample.
/// Element types, the timestep's rank and the fixed dimensions come from the graph's metadata.
/// </summary>
public sealed class Unet : IDisposable
{
    public const int LatentChannels = 4;
    private readonly OnnxGraph _graph;
    private readonly TensorElementType _sampleType, _timestepType, _hiddenType, _condType;
    private readonly long[] _timestepShape;

    public Unet(OnnxGraph graph, int? configuredTimeCondDim)
    {
        _graph = graph;
        var sample = graph.RequireInput("sample", OnnxGraph.FloatTypes, 4);
        var timestep = graph.RequireInput("timestep",
            [TensorElementType.Int64, TensorElementType.Int32, TensorElementType.Float, TensorElementType.Float16], 0, 1);
        var hidden = graph.RequireInput("encoder_hidden_states", OnnxGraph.FloatTypes, 3);
        if (!graph.HasInput("timestep_cond"))
            throw new ModelFormatException($"'{graph.Path}' has no input 'timestep_cond': only distilled LCM UNets (with a guidance embedding) are supported");
        var cond = graph.RequireInput("timestep_cond", OnnxGraph.FloatTypes, 2);
        graph.RequireOutput("out_sample", OnnxGraph.FloatTypes, 4);
        (_sampleType, _timestepType, _hiddenType, _condType) = (sample.ElementDataType, timestep.ElementDataType, hidden.ElementDataType, cond.ElementDataType);
        _timestepShape = timestep.Dimensions.Length == 0 ? [] : [1];
        FixedBatch = OnnxGraph.FixedDimension(sample, 0);
        FixedLatentHeight = OnnxGraph.FixedDimension(sample, 2);
        FixedLatentWidth = OnnxGraph.FixedDimension(sample, 3);
        HiddenSize = OnnxGraph.FixedDimension(hidden, 2);
        TimeCondDim = OnnxGraph.FixedDimension(cond, 1) ?? configuredTimeCondDim
            ?? throw new ModelFormatException($"'{graph.Path}' input 'timestep_cond' has a symbolic width and unet/config.json has no 'time_cond_proj_dim'");
    }

    public int? FixedBatch { get; }
    public int? FixedLatentHeight { get; }
    public int? FixedLatentWidth { get; }
    public int? HiddenSize { get; }
    public int TimeCondDim { get; }

    /// <summary>Predicts the model output for a batch of latents [batch, 4, h, w] at one timestep.</summary>
    public float[] Predict(float[] samples, int batch, int latentHeight, int latentWidth, int timestep,
        float[] hiddenStates, int hiddenSize, float[] timestepCond, RunOptions runOptions)
    {
        using var sample = OnnxGraph.FloatTensor(samples, [batch, LatentChannels, latentHeight, latentWidth], _sampleType);
        using var time = OnnxGraph.NumberTensor([timestep], _timestepShape, _timestepType);
        using var hidden = OnnxGraph.FloatTensor(hiddenStates, [batch, hiddenStates.Length / batch / hiddenSize, hiddenSize], _hiddenType);
        using var cond = OnnxGraph.FloatTensor(timestepCond, [batch, TimeCondDim], _condType);
        return _graph.Run(new Dictionary<string, OrtValue>
        {
            ["sample"] = sample,
            ["timestep"] = time,
            ["encoder_hidden_states"] = hidden,
            ["timestep_cond"] = cond,
        }, "out_sample", runOptions);
    }

    public OnnxGraph Graph => _graph;

    public void Dispose() => _graph.Dispose();
}
