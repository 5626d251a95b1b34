using Lcm.Engine.Loaders;
using Lcm.Engine.Schedulers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>
/// The UNet graph: (sample, timestep, encoder_hidden_states[, timestep_cond]) to out_sample. With
/// <c>timestep_cond</c> it is a distilled LCM that takes the guidance scale as an embedding; without it
/// (an SD 1.5 UNet with LCM-LoRA merged), guidance above 1 is classifier-free, as in diffusers.
/// Element types, the timestep's rank and the fixed dimensions come from the graph's metadata.
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
    public int? FixedLatentHeight { get; }
    public int? FixedLatentWidth { get; }
    public int? HiddenSize { get; }
    /// <summary>The guidance embedding's width; null for a UNet without <c>timestep_cond</c>.</summary>
    public int? TimeCondDim { get; }
    public ModelKind Kind => TimeCondDim is null ? ModelKind.LcmLora : ModelKind.Distilled;

    /// <summary>Whether a batch at these guidance scales needs the unconditional text (classifier-free guidance).</summary>
    public bool NeedsUnconditional(IEnumerable<double> guidanceScales) => Kind == ModelKind.LcmLora && guidanceScales.Any(g => g > 1);

    /// <summary>
    /// Predicts the model output for a batch of latents [batch, 4, h, w] at one timestep, at each
    /// image's guidance scale. <paramref name="unconditionalStates"/> (the negative prompts' hidden
    /// states) is given exactly when <see cref="NeedsUnconditional"/> says so; then the batch runs as
    /// [unconditional, conditional] and an image at g > 1 gets eps_u + g * (eps_c - eps_u), one at g &lt;= 1 eps_c.
    /// </summary>
    public float[] Predict(float[] samples, int batch, int latentHeight, int latentWidth, int timestep,
        float[] hiddenStates, int hiddenSize, double[] guidanceScales, float[]? unconditionalStates, RunOptions runOptions)
    {
        if (TimeCondDim is int condDim)
        {
            float[] cond = new float[batch * condDim];
            for (int i = 0; i < batch; i++) GuidanceEmbedding.Write(guidanceScales[i], cond.AsSpan(i * condDim, condDim));
            return Run(samples, batch, latentHeight, latentWidth, timestep, hiddenStates, hiddenSize, cond, runOptions);
        }
        if (unconditionalStates is null)
            return Run(samples, batch, latentHeight, latentWidth, timestep, hiddenStates, hiddenSize, null, runOptions);

        float[] output = Run([.. samples, .. samples], 2 * batch, latentHeight, latentWidth, timestep,
            [.. unconditionalStates, .. hiddenStates], hiddenSize, null, runOptions);
        int size = samples.Length / batch;
        var guided = new float[samples.Length];
        for (int i = 0; i < batch; i++)
        {
            float g = (float)guidanceScales[i];
            var unconditional = output.AsSpan(i * size, size);
            var conditional = output.AsSpan((batch + i) * size, size);
            var result = guided.AsSpan(i * size, size);
            for (int j = 0; j < size; j++)
                result[j] = g > 1 ? unconditional[j] + g * (conditional[j] - unconditional[j]) : conditional[j];
        }
        return guided;
    }

    public OnnxGraph Graph => _graph;

    public void Dispose() => _graph.Dispose();

    /// <summary>One graph run, or several of the graph's fixed batch size when the batch is larger.</summary>
    private float[] Run(float[] samples, int batch, int latentHeight, int latentWidth, int timestep,
        float[] hiddenStates, int hiddenSize, float[]? timestepCond, RunOptions runOptions)
    {
        int part = Math.Min(FixedBatch ?? batch, batch);
        if (part < batch)
        {
            var output = new float[samples.Length];
            int sampleSize = samples.Length / batch, stateSize = hiddenStates.Length / batch, condSize = (timestepCond?.Length ?? 0) / batch;
            for (int first = 0; first < batch; first += part)
                Run(samples[(first * sampleSize)..((first + part) * sampleSize)], part, latentHeight, latentWidth, timestep,
                        hiddenStates[(first * stateSize)..((first + part) * stateSize)], hiddenSize,
                        timestepCond?[(first * condSize)..((first + part) * condSize)], runOptions)
                    .CopyTo(output, first * sampleSize);
            return output;
        }
        using var sample = OnnxGraph.FloatTensor(samples, [batch, LatentChannels, latentHeight, latentWidth], _sampleType);
        using var time = OnnxGraph.NumberTensor([timestep], _timestepShape, _timestepType);
        using var hidden = OnnxGraph.FloatTensor(hiddenStates, [batch, hiddenStates.Length / batch / hiddenSize, hiddenSize], _hiddenType);
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
