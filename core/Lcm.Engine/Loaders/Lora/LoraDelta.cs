using System.Numerics.Tensors;

namespace Lcm.Engine.Loaders.Lora;

/// <summary>
/// The merge itself: W += factor * up @ down, with up [out, rank] and down [rank, in] (a k x k conv's
/// down [rank, in, k, k] is [rank, in * k * k], so sum_r up[o, r] * down[r, i, y, x] is the same
/// product), added in float32 into the weight in its own layout.
/// </summary>
internal static class LoraDelta
{
    public static void AddTo(float[] weight, WeightLayout layout, int outputs, int inputs, int rank, float[] up, float[] down, float factor)
    {
        if (weight.Length != (long)outputs * inputs || up.Length != (long)outputs * rank || down.Length != (long)rank * inputs)
            throw new ArgumentException($"sizes do not agree: weight {weight.Length}, up {up.Length}, down {down.Length} for [{outputs}, {inputs}] at rank {rank}");
        if (layout == WeightLayout.OutIn)
            // Row o of W gains sum_r factor * up[o, r] * down[r, :].
            AddProducts(weight, rows: outputs, columns: inputs, rank, (row, r) => factor * up[row * rank + r], down);
        else
        {
            // Stored [in, out]: row i of W gains sum_r factor * down[r, i] * up[:, r].
            var upT = new float[rank * outputs];
            for (int o = 0; o < outputs; o++)
            for (int r = 0; r < rank; r++)
                upT[r * outputs + o] = up[o * rank + r];
            AddProducts(weight, rows: inputs, columns: outputs, rank, (row, r) => factor * down[r * inputs + row], upT);
        }
    }

    /// <summary>target[row, :] += sum_r coefficient(row, r) * basis[r, :], rows in parallel.</summary>
    private static void AddProducts(float[] target, int rows, int columns, int rank, Func<int, int, float> coefficient, float[] basis) =>
        Parallel.For(0, rows, row =>
        {
            var destination = target.AsSpan(row * columns, columns);
            for (int r = 0; r < rank; r++)
                TensorPrimitives.MultiplyAdd(basis.AsSpan(r * columns, columns), coefficient(row, r), destination, destination);
        });
}
