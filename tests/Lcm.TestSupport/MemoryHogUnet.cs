using Lcm.SyntheticModels;
using DataType = Onnx.TensorProto.Types.DataType;
using static Lcm.SyntheticModels.GraphBuilder;

namespace Lcm.Tests.Generation;

/// <summary>
/// Replaces a test model's UNet with one that has the same inputs and output but asks for petabytes
/// at run time (a tensor sized from the sample's shape), so ONNX Runtime's allocation fails inside a
/// real run, as a real model's does when a request does not fit.
/// </summary>
public static class MemoryHogUnet
{
    public static void Write(string modelFolder)
    {
        var g = new GraphBuilder("unet", seed: 1, float16: false);
        string sample = g.FloatInput("sample", "batch", 4, "height", "width");
        g.Input("timestep", DataType.Int64, 1);
        g.FloatInput("encoder_hidden_states", "batch", 77, 32);
        g.FloatInput("timestep_cond", "batch", 256);
        // 2^42 elements per latent pixel: beyond any machine's address space, so the allocation fails whatever the overcommit policy.
        string hugeShape = g.Node("Mul", [g.Node("Shape", [sample]), g.Int64s(1, 1 << 14, 1 << 14, 1 << 14)]);
        string huge = g.Node("ConstantOfShape", [hugeShape]);
        string zero = g.Node("Mul", [g.Node("ReduceSum", [huge], IntAttribute("keepdims", 0L)), g.Scalar(0f)]);
        g.FloatOutput("out_sample", g.Node("Add", [sample, zero]), "batch", 4, "height", "width");
        g.Save(Path.Combine(modelFolder, "unet", "model.onnx"));
    }
}
