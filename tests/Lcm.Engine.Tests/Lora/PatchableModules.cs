using Lcm.Engine.Loaders.Lora;
using Lcm.SyntheticModels;
using Onnx;

namespace Lcm.Tests.Lora;

/// <summary>Reads test-model graphs and checks that LoRA merging finds each module the model was written with.</summary>
internal static class PatchableModules
{
    public static GraphProto Graph(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream).Graph;
    }

    /// <summary>Every module of each component, and no other, is found by its node's scope with the exporter's weight, op, layout and sizes.</summary>
    public static void AssertFound(IReadOnlyList<PatchableModule> modules, params (LoraComponent Component, string Path)[] graphs)
    {
        foreach (var (component, path) in graphs)
        {
            var weights = GraphWeights.Find(Graph(path));
            var expected = modules.Where(m => m.Component == component).ToArray();

            Assert.Empty(weights.Problems);
            Assert.Equal(expected.Select(m => LoraKey.Flatten(m.Path)).Order(), weights.Targets.Keys.Order());
            foreach (var module in expected)
            {
                var target = weights.Targets[LoraKey.Flatten(module.Path)];
                Assert.Equal((module.WeightName, module.OpType, module.Layout, (long)module.Out, module.InputsPerOutput),
                    (target.Weight.Name, target.Node.OpType, target.Layout, target.Out, target.In));
                Assert.StartsWith("/", target.Node.Name);
            }
        }
    }
}
