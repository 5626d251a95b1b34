using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.SyntheticModels;

namespace Lcm.Tests.Lora;

/// <summary>Compares merged graphs with those of a model written with the LoRA deltas already in its weights.</summary>
internal static class MergedWeights
{
    /// <summary>
    /// Each patched module's weight equals the pre-merged model's, within float rounding; every other
    /// weight is the source model's, in every graph the model has.
    /// </summary>
    public static void AssertAsExpected(LoraFixture fixture, TestModelOptions model, IReadOnlyList<PatchableModule> modules, GraphPaths merged,
        IReadOnlyDictionary<(LoraComponent, string), float[]> deltas)
    {
        var expectedModel = ModelFolder.Open(fixture.PreMerged(model, deltas));
        var source = ModelFolder.Open(fixture.Model(model));
        foreach (var (component, mergedPath, expectedPath, sourcePath) in new[]
                 {
                     (LoraComponent.Unet, merged.Unet, expectedModel.UnetPath, source.UnetPath),
                     (LoraComponent.TextEncoder, merged.TextEncoder, expectedModel.TextEncoderPath, source.TextEncoderPath),
                     (LoraComponent.TextEncoder2, merged.TextEncoder2, expectedModel.TextEncoder2Path, source.TextEncoder2Path),
                 })
        {
            Assert.Equal(sourcePath is null, mergedPath is null);
            if (mergedPath is null) continue;
            var actual = LoraFixture.Weights(mergedPath);
            var expected = LoraFixture.Weights(expectedPath!);
            var original = LoraFixture.Weights(sourcePath!);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            var patched = modules.Where(m => m.Component == component && deltas.ContainsKey((component, m.Path))).Select(m => m.WeightName).ToHashSet();
            foreach (var (name, values) in actual)
            {
                if (!patched.Contains(name))
                {
                    Assert.Equal(original[name], values);
                    continue;
                }
                Assert.NotEqual(original[name], values);
                for (int i = 0; i < values.Length; i++)
                {
                    // float32: the merger sums rank terms in float32, the expectation in float64.
                    // float16: both round once, so they may differ by one unit in the last place.
                    float tolerance = model.Float16 ? MathF.Abs(expected[name][i]) / 1024 + 1e-7f : 1e-5f * (1 + MathF.Abs(expected[name][i]));
                    Assert.True(MathF.Abs(values[i] - expected[name][i]) <= tolerance,
                        $"{name}[{i}]: merged {values[i]}, expected {expected[name][i]}");
                }
            }
        }
    }
}
