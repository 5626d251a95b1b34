using Lcm.Engine.Loaders;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Engine.Models;

/// <summary>
/// The UNet runs of one batch of latents, step after step. Its conditioning is converted to the
/// graph's element types and bound once (on CUDA, copied to the device once); each step writes the
/// samples and the timestep into tensors made at the start and reads the prediction from a bound
/// output, so a step allocates no tensor. A batch larger than the graph's fixed batch runs in parts.
/// </summary>
public sealed class UnetSteps : IDisposable
{
    private readonly Part[] _parts;
    private readonly int _partLength;
    private readonly float[] _output;

    internal UnetSteps(Part[] parts, int partLength)
    {
        (_parts, _partLength) = (parts, partLength);
        _output = new float[parts.Length * partLength];
    }

    /// <summary>The prediction for each image's <paramref name="samples"/> at one timestep, in an array the next step overwrites.</summary>
    public float[] Predict(ReadOnlySpan<float> samples, int timestep, RunOptions runOptions)
    {
        for (int p = 0; p < _parts.Length; p++)
            _parts[p].Run(samples.Slice(p * _partLength, _partLength), timestep, _output.AsSpan(p * _partLength, _partLength), runOptions);
        return _output;
    }

    public void Dispose()
    {
        foreach (var part in _parts) part.Dispose();
    }

    /// <summary>One run's worth of the batch: its binding, its own sample, timestep and output tensors, and its conditioning.</summary>
    internal sealed class Part : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly OrtIoBinding _binding;
        private readonly OrtValue _sample, _timestep, _output;
        private readonly OrtValue[] _conditioning;

        public Part(OnnxGraph graph, (long[] Shape, TensorElementType Type) sample, (long[] Shape, TensorElementType Type) timestep,
            TensorElementType outputType, IReadOnlyList<(string Name, OrtValue Value)> conditioning)
        {
            _session = graph.Session;
            _conditioning = conditioning.Select(c => c.Value).ToArray();
            _sample = OnnxGraph.Allocate(sample.Type, sample.Shape);
            _timestep = OnnxGraph.Allocate(timestep.Type, timestep.Shape);
            _output = OnnxGraph.Allocate(outputType, sample.Shape);
            _binding = _session.CreateIoBinding();
            foreach (var (name, value) in conditioning) _binding.BindInput(name, value);
            _binding.BindOutput("out_sample", _output);
        }

        public void Run(ReadOnlySpan<float> samples, int timestep, Span<float> output, RunOptions runOptions)
        {
            OnnxGraph.Write(_sample, samples);
            OnnxGraph.WriteNumber(_timestep, timestep);
            // Bound again each step: on a device the binding holds the copy it made when the input was bound.
            _binding.BindInput("sample", _sample);
            _binding.BindInput("timestep", _timestep);
            _session.RunWithBinding(runOptions, _binding);
            _binding.SynchronizeBoundOutputs();
            OnnxGraph.Read(_output, output);
        }

        public void Dispose()
        {
            _binding.Dispose();
            foreach (var value in _conditioning) value.Dispose();
            _sample.Dispose();
            _timestep.Dispose();
            _output.Dispose();
        }
    }
}
