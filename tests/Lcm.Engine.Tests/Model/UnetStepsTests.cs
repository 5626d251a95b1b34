using Lcm.Engine.Loaders;
using Lcm.Engine.Models;
using Lcm.SyntheticModels;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Tests.Model;

/// <summary>The UNet's conditioning bound once for all steps: the same predictions as a binding made anew each step, and no per-step output array.</summary>
public sealed class UnetStepsTests
{
    public static TheoryData<string, TestModelOptions> Models => new()
    {
        { "SD 1.5, float32", new TestModelOptions() },
        { "SD 1.5, float16", new TestModelOptions { Float16 = true } },
        { "SD 1.5, fixed batch 1 (two parts)", new TestModelOptions { FixedBatch = true } },
        { "SDXL, older export (int64 timestep [1])", new TestModelOptions { Family = ModelFamily.StableDiffusionXL, Era = ExportEra.Legacy } },
        { "SDXL LCM-LoRA, float16, float scalar timestep", new TestModelOptions { Family = ModelFamily.StableDiffusionXL, Kind = ModelKind.LcmLora, Float16 = true } },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Steps_on_one_binding_equal_a_binding_per_step_and_reuse_their_output(string model, TestModelOptions options)
    {
        string folder = Directory.CreateTempSubdirectory("lcm-unet-steps-").FullName;
        try
        {
            TestModelMaker.Write(folder, options);
            string path = Path.Combine(folder, "unet", "model.onnx");
            using var unet = new Unet(new OnnxGraph(path, new InferenceSession(path)), configuredTimeCondDim: null);
            var shape = LatentShape.FromImage(256, 192, batch: 2);
            var conditioning = Conditioning(unet, shape.Batch);
            using var runOptions = new RunOptions();
            var random = new Random(7);
            float[] samples = Enumerable.Range(0, shape.Length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();

            using var steps = unet.Bind(shape, conditioning);
            var inputs = new List<float[]>();
            var outputs = new List<float[]>();
            float[]? first = null;
            long mostAllocated = 0;
            foreach (int timestep in new[] { 999, 759, 499, 259 })
            {
                inputs.Add((float[])samples.Clone());
                long before = GC.GetAllocatedBytesForCurrentThread();
                float[] output = steps.Predict(samples, timestep, runOptions);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (first is not null) mostAllocated = Math.Max(mostAllocated, allocated);
                first ??= output;
                Assert.Same(first, output);
                outputs.Add((float[])output.Clone());
                for (int i = 0; i < samples.Length; i++) samples[i] = 0.8f * samples[i] - 0.3f * output[i];
            }

            int[] timesteps = [999, 759, 499, 259];
            for (int s = 0; s < timesteps.Length; s++)
            {
                using var fresh = unet.Bind(shape, conditioning);
                Assert.Equal(outputs[s], fresh.Predict(inputs[s], timesteps[s], runOptions));
            }
            Assert.NotEqual(outputs[0], outputs[1]);
            // A step that made its output array anew would allocate the batch's latents, 2 x 4 x 24 x 32 floats (24 KB).
            Assert.True(mostAllocated < shape.Length * sizeof(float), $"{model}: a step allocated {mostAllocated} bytes");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static UnetConditioning Conditioning(Unet unet, int batch)
    {
        var random = new Random(3);
        float[] Values(int count) => Enumerable.Range(0, count).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        return new UnetConditioning(
            Values(batch * 77 * unet.HiddenSize!.Value),
            unet.TakesAddedConditions ? Values(batch * unet.PooledSize!.Value) : null,
            unet.TakesAddedConditions ? [.. Enumerable.Repeat<float[]>([192, 256, 0, 0, 192, 256], batch).SelectMany(x => x)] : null,
            unet.TimeCondDim is int dim ? Values(batch * dim) : null);
    }
}
