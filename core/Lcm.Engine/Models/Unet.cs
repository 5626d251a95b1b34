using Lcm.Engine.Loaders;
using Lcm.Engine.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>
/// The UNet graph: (sample, timestep, encoder_hidden_states[, text_embeds, time_ids][, timestep_cond])
/// to out_sample, every input bound by name. How the guidance scale steers it is <see cref="IGuidance"/>'s;
/// this only feeds the graph, through <see cref="UnetSteps"/>. Element types, the timestep's rank and the fixed dimensions come from
/// the graph's metadata.
/// </summary>
public sealed class Unet : IDisposable
{
    public const int LatentChannels = 4;
    /// <summary>SDXL's add_time_ids: original size, crop top-left and target size, (height, width) each.</summary>
    public const int TimeIdsLength = 6;
    private static readonly string[] KnownInputs = ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids", "timestep_cond"];
    private readonly OnnxGraph _graph;
    private readonly TensorElementType _sampleType, _timestepType, _hiddenType, _outputType;
    private readonly TensorElementType? _condType, _textEmbedsType, _timeIdsType;
    private readonly long[] _timestepShape;

    public Unet(OnnxGraph graph, int? configuredTimeCondDim)
    {
        _graph = graph;
        var sample = graph.RequireInput("sample", OnnxGraph.FloatTypes, 4);
        var timestep = graph.RequireInput("timestep",
            [TensorElementType.Int64, TensorElementType.Int32, TensorElementType.Float, TensorElementType.Float16], 0, 1);
        var hidden = graph.RequireInput("encoder_hidden_states", OnnxGraph.FloatTypes, 3);
        _outputType = graph.RequireOutput("out_sample", OnnxGraph.FloatTypes, 4).ElementDataType;
        if (graph.Session.InputMetadata.Keys.FirstOrDefault(name => !KnownInputs.Contains(name)) is { } unknown)
            throw new ModelFormatException($"'{graph.Path}' has input '{unknown}', which the engine cannot feed; a UNet takes {string.Join(", ", KnownInputs)} " +
                "(text_embeds and time_ids for SDXL-class models, timestep_cond for distilled LCMs)");
        (_sampleType, _timestepType, _hiddenType) = (sample.ElementDataType, timestep.ElementDataType, hidden.ElementDataType);
        _timestepShape = timestep.Dimensions.Length == 0 ? [] : [1];
        FixedBatch = OnnxGraph.FixedDimension(sample, 0);
        FixedLatentHeight = OnnxGraph.FixedDimension(sample, 2);
        FixedLatentWidth = OnnxGraph.FixedDimension(sample, 3);
        HiddenSize = OnnxGraph.FixedDimension(hidden, 2);
        if (graph.HasInput("text_embeds") != graph.HasInput("time_ids"))
            throw new ModelFormatException($"'{graph.Path}' has input '{(graph.HasInput("text_embeds") ? "text_embeds" : "time_ids")}' without " +
                $"'{(graph.HasInput("text_embeds") ? "time_ids" : "text_embeds")}'; an SDXL-class UNet takes both");
        if (graph.HasInput("text_embeds"))
        {
            var textEmbeds = graph.RequireInput("text_embeds", OnnxGraph.FloatTypes, 2);
            var timeIds = graph.RequireInput("time_ids", OnnxGraph.FloatTypes, 2);
            if (OnnxGraph.FixedDimension(timeIds, 1) is int length && length != TimeIdsLength)
                throw new ModelFormatException($"'{graph.Path}' input 'time_ids' has {length} values per image; the engine gives {TimeIdsLength} (original size, crop, target size)");
            (_textEmbedsType, _timeIdsType) = (textEmbeds.ElementDataType, timeIds.ElementDataType);
            PooledSize = OnnxGraph.FixedDimension(textEmbeds, 1);
        }
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
    /// <summary>Whether the UNet takes SDXL's added conditions, <c>text_embeds</c> and <c>time_ids</c>.</summary>
    public bool TakesAddedConditions => _textEmbedsType is not null;
    /// <summary>The width of <c>text_embeds</c>, when the graph fixes it.</summary>
    public int? PooledSize { get; }

    public OnnxGraph Graph => _graph;

    public void Dispose() => _graph.Dispose();

    /// <summary>
    /// The UNet's runs for latents of <paramref name="shape"/> through their steps, given their conditioning,
    /// bound once. Runs in parts of the graph's fixed batch size when the batch is larger.
    /// </summary>
    public UnetSteps Bind(LatentShape shape, UnetConditioning conditioning)
    {
        int batch = shape.Batch, part = Math.Min(FixedBatch ?? batch, batch);
        var parts = new List<UnetSteps.Part>();
        for (int first = 0; first < batch; first += part)
            parts.Add(BindPart(shape with { Batch = part }, part == batch ? conditioning : conditioning.Slice(first, part, batch)));
        return new UnetSteps([.. parts], part * shape.ImageLength);
    }

    private UnetSteps.Part BindPart(LatentShape shape, UnetConditioning conditioning)
    {
        int batch = shape.Batch;
        float[] states = conditioning.EncoderHiddenStates;
        var inputs = new List<(string, OrtValue)>
        {
            ("encoder_hidden_states", OnnxGraph.FloatTensor(states, [batch, ClipTokenizer.MaxLength, states.Length / batch / ClipTokenizer.MaxLength], _hiddenType)),
        };
        AddOptional(inputs, conditioning.TextEmbeds, _textEmbedsType, batch, "text_embeds");
        AddOptional(inputs, conditioning.TimeIds, _timeIdsType, batch, "time_ids");
        AddOptional(inputs, conditioning.TimestepCond, _condType, batch, "timestep_cond");
        return new UnetSteps.Part(_graph, (shape.Dimensions, _sampleType), (_timestepShape, _timestepType), _outputType, inputs);
    }

    /// <summary>A [batch, n] input the graph takes exactly when <paramref name="type"/> is known; a mismatch is the pipeline's bug.</summary>
    private void AddOptional(List<(string, OrtValue)> inputs, float[]? values, TensorElementType? type, int batch, string name)
    {
        if ((values is null) != (type is null))
            throw new InvalidOperationException($"'{_graph.Path}' input '{name}' {(type is null ? "is not in the graph but was given" : "was not given")}");
        if (values is not null) inputs.Add((name, OnnxGraph.FloatTensor(values, [batch, values.Length / batch], type!.Value)));
    }
}
