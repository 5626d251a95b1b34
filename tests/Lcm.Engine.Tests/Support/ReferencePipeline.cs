using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Noise;
using Lcm.Engine.Schedulers;
using Lcm.Engine.Text;
using Lcm.SyntheticModels;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lcm.Tests.Support;

/// <summary>How the guidance scale reaches the UNet.</summary>
internal enum ReferenceGuidance
{
    /// <summary>A distilled LCM: the scale's embedding as <c>timestep_cond</c>, one conditional pass.</summary>
    Embedded,

    /// <summary>A three-input UNet: above 1, one batch of [negative, prompt] and eps_u + g (eps_c - eps_u); else the prompt alone.</summary>
    ClassifierFree,
}

/// <summary>
/// One reference run. The defaults are diffusers' one-step text-to-image run; the rest exist so a
/// test can show that a wrong timestep, scaling factor or draw order would move the pixels.
/// </summary>
internal sealed record ReferenceRun(string Prompt, long Seed, int Width, int Height)
{
    public double Guidance { get; init; } = 8.5;
    public ReferenceGuidance GuidanceKind { get; init; } = ReferenceGuidance.Embedded;
    /// <summary>Null is no negative prompt: zeros on an SDXL folder with force_zeros_for_empty_prompt, else the empty text.</summary>
    public string? NegativePrompt { get; init; } = "";
    public int[] Timesteps { get; init; } = [999];
    public (RgbImage Image, VaeEncoderKind Kind)? Init { get; init; }

    /// <summary>The VAE's scaling factor; null takes the model folder's.</summary>
    public double? ScalingFactor { get; init; }

    /// <summary>Draws add_noise's noise before the posterior's z, the wrong way round.</summary>
    public bool NoiseBeforePosterior { get; init; }

    /// <summary>SDXL mistakes a test shows would move the pixels: last_hidden_state for the penultimate state.</summary>
    public bool LastHiddenState { get; init; }

    /// <summary>time_ids as (width, height) instead of diffusers' (height, width).</summary>
    public bool SwappedTimeIds { get; init; }

    /// <summary>tokenizer_2's ids made with the first tokenizer, which pads with 49407 instead of "!".</summary>
    public bool SecondTokenizerLikeFirst { get; init; }

    public int LatentSize => 4 * (Height / 8) * (Width / 8);
    public long[] LatentShape(int batch) => [batch, 4, Height / 8, Width / 8];
}

/// <summary>Prompt embeddings [1, 77, hidden] and, for SDXL, the pooled text_embeds.</summary>
internal sealed record Embeddings(float[] Hidden, float[]? Pooled);

/// <summary>
/// diffusers' LCM pipelines (text-to-image and image-to-image; SD 1.5 and SDXL) recomputed on a model folder's own
/// graphs and scheduler config, apart from the engine's pipeline, so the tests that compare the two
/// catch wiring mistakes in either. Only ONNX Runtime, the tokenizer and the seeded noise are shared.
/// </summary>
internal sealed class ReferencePipeline(string modelPath)
{
    private const double SigmaData = 0.5;
    private readonly ModelFolder _model = ModelFolder.Open(modelPath);
    private static readonly RunOptions Options = new();

    /// <summary>The whole run: prompt, initial latents, the LCM steps and the decoded RGB bytes.</summary>
    public byte[] Run(ReferenceRun run)
    {
        var conditional = EncodePrompt(run, run.Prompt);
        var unconditional = run.GuidanceKind == ReferenceGuidance.ClassifierFree && run.Guidance > 1
            ? run.NegativePrompt is null && Sdxl && _model.ForceZerosForEmptyPrompt
                ? new Embeddings(new float[conditional.Hidden.Length], new float[conditional.Pooled!.Length])
                : EncodePrompt(run, run.NegativePrompt ?? "")
            : null;
        // One generator per image: the posterior's z, the initial noise, then each renoising draw.
        var generator = new GaussianNoise((ulong)run.Seed);
        float[] sample = InitialLatents(run, generator);
        float[] denoised = [];
        for (int s = 0; s < run.Timesteps.Length; s++)
        {
            int? next = s + 1 < run.Timesteps.Length ? run.Timesteps[s + 1] : null;
            float[] prediction = Predict(run, sample, run.Timesteps[s], conditional, unconditional);
            (denoised, sample) = Step(prediction, run.Timesteps[s], next, sample, generator);
        }
        return Decode(run, denoised);
    }

    private bool Sdxl => _model.TextEncoder2Path is not null;

    /// <summary>
    /// SD 1.5: the text encoder's last_hidden_state [1, 77, hidden]. SDXL: each encoder's
    /// hidden_states.{num_hidden_layers - 1} (by its config.json), side by side per token, and
    /// text_encoder_2's text_embeds.
    /// </summary>
    public Embeddings EncodePrompt(ReferenceRun run, string text)
    {
        var first = ClipTokenizer.FromFolder(_model.TokenizerDirectory);
        if (!Sdxl) return new Embeddings(Encode(_model.TextEncoderPath, first.Encode(text).Ids, ["last_hidden_state"])[0], null);
        var second = run.SecondTokenizerLikeFirst ? first : ClipTokenizer.FromFolder(_model.Tokenizer2Directory!);
        string State(string encoder) => run.LastHiddenState ? "last_hidden_state" : $"hidden_states.{Layers(encoder) - 1}";
        float[] one = Encode(_model.TextEncoderPath, first.Encode(text).Ids, [State(_model.TextEncoderPath)])[0];
        float[][] two = Encode(_model.TextEncoder2Path!, second.Encode(text).Ids, [State(_model.TextEncoder2Path!), "text_embeds"]);
        int w1 = one.Length / 77, w2 = two[0].Length / 77;
        var hidden = new float[77 * (w1 + w2)];
        for (int t = 0; t < 77; t++)
        {
            Array.Copy(one, t * w1, hidden, t * (w1 + w2), w1);
            Array.Copy(two[0], t * w2, hidden, t * (w1 + w2) + w1, w2);
        }
        return new Embeddings(hidden, two[1]);
    }

    private static float[][] Encode(string path, int[] ids, string[] outputs)
    {
        using var session = new InferenceSession(path);
        bool int64 = session.InputMetadata["input_ids"].ElementDataType == TensorElementType.Int64;
        using var input = int64 ? OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, i => (long)i), [1, 77])
                                : OrtValue.CreateTensorValueFromMemory(ids, [1, 77]);
        using var output = session.Run(Options, ["input_ids"], [input], outputs);
        return output.Select(Floats).ToArray();
    }

    private static int Layers(string encoderPath)
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(encoderPath)!, "config.json")));
        return config.RootElement.GetProperty("num_hidden_layers").GetInt32();
    }

    /// <summary>
    /// Text-to-image: the seeded noise, unscaled (LCM's init_noise_sigma is 1). Image-to-image: the
    /// VAE encoder's latents (sampled from the posterior for <c>latent_parameters</c>), scaled, then
    /// noised to the first timestep as diffusers' add_noise does.
    /// </summary>
    public float[] InitialLatents(ReferenceRun run, GaussianNoise generator)
    {
        int size = run.LatentSize;
        float[] z = new float[size], noise = new float[size];
        if (run.Init is not { } init)
        {
            generator.Fill(noise);
            return noise;
        }
        float[] encoded = EncodeImage(run, init.Image, init.Kind);
        bool posterior = init.Kind == VaeEncoderKind.LatentParameters;
        if (posterior && run.NoiseBeforePosterior) { generator.Fill(noise); generator.Fill(z); }
        else if (posterior) { generator.Fill(z); generator.Fill(noise); }
        else generator.Fill(noise);

        double scaling = run.ScalingFactor ?? _model.VaeScalingFactor;
        double alpha = AlphaCumprod(run.Timesteps[0]);
        var latents = new float[size];
        for (int i = 0; i < size; i++)
        {
            float sampled = posterior
                ? encoded[i] + MathF.Exp(Math.Clamp(encoded[size + i], -30f, 20f) / 2f) * z[i]
                : encoded[i];
            float scaled = (float)(sampled * scaling);
            latents[i] = (float)(Math.Sqrt(alpha) * scaled + Math.Sqrt(1 - alpha) * noise[i]);
        }
        return latents;
    }

    /// <summary>The UNet's guided noise prediction at a timestep, by <see cref="ReferenceRun.GuidanceKind"/>.</summary>
    public float[] Predict(ReferenceRun run, float[] sample, int timestep, Embeddings conditional, Embeddings? unconditional)
    {
        bool embedded = run.GuidanceKind == ReferenceGuidance.Embedded;
        int batch = unconditional is null ? 1 : 2;
        int hidden = conditional.Hidden.Length / 77;
        using var session = new InferenceSession(_model.UnetPath);
        var feeds = new Dictionary<string, OrtValue>
        {
            ["sample"] = Tensor(session, "sample", batch == 2 ? [.. sample, .. sample] : sample, run.LatentShape(batch)),
            // Older exports take an int64 [1] timestep, newer (and fp16 SD 1.5) ones a float32 scalar.
            ["timestep"] = session.InputMetadata["timestep"].Dimensions.Length == 0
                ? OrtValue.CreateTensorValueFromMemory(new float[] { timestep }, [])
                : OrtValue.CreateTensorValueFromMemory(new long[] { timestep }, [1]),
            ["encoder_hidden_states"] = Tensor(session, "encoder_hidden_states",
                batch == 2 ? [.. unconditional!.Hidden, .. conditional.Hidden] : conditional.Hidden, [batch, 77, hidden]),
        };
        if (Sdxl)
        {
            float[] pooled = batch == 2 ? [.. unconditional!.Pooled!, .. conditional.Pooled!] : conditional.Pooled!;
            float[] ids = run.SwappedTimeIds ? [run.Width, run.Height, 0, 0, run.Width, run.Height] : [run.Height, run.Width, 0, 0, run.Height, run.Width];
            feeds["text_embeds"] = Tensor(session, "text_embeds", pooled, [batch, pooled.Length / batch]);
            feeds["time_ids"] = Tensor(session, "time_ids", batch == 2 ? [.. ids, .. ids] : ids, [batch, 6]);
        }
        if (embedded)
        {
            int dimension = _model.TimeCondProjDim ?? throw new InvalidOperationException("no time_cond_proj_dim");
            feeds["timestep_cond"] = Tensor(session, "timestep_cond", GuidanceEmbedding(run.Guidance, dimension), [1, dimension]);
        }
        using var output = session.Run(Options, feeds.Keys.ToArray(), feeds.Values.ToArray(), ["out_sample"]);
        foreach (var feed in feeds.Values) feed.Dispose();
        float[] eps = Floats(output[0]);
        if (batch == 1) return eps;
        int size = sample.Length;
        float g = (float)run.Guidance;
        return Enumerable.Range(0, size).Select(i => eps[i] + g * (eps[size + i] - eps[i])).ToArray();
    }

    /// <summary>
    /// One LCM step: the boundary-condition denoised estimate c_skip x + c_out x0 and, before every
    /// step but the last, the sample renoised to the next timestep with the generator's next draw.
    /// </summary>
    public (float[] Denoised, float[] Sample) Step(float[] prediction, int timestep, int? next, float[] sample, GaussianNoise generator)
    {
        SchedulerConfig config = _model.Scheduler;
        double alpha = AlphaCumprod(timestep), sqrtAlpha = Math.Sqrt(alpha), sqrtBeta = Math.Sqrt(1 - alpha);
        double scaled = timestep * config.TimestepScaling, s2 = scaled * scaled + SigmaData * SigmaData;
        double cSkip = SigmaData * SigmaData / s2, cOut = scaled / Math.Sqrt(s2);
        double clip = config.ClipSample ? config.ClipSampleRange : double.PositiveInfinity;
        var denoised = new float[sample.Length];
        for (int i = 0; i < sample.Length; i++)
        {
            double x = sample[i], e = prediction[i];
            double x0 = config.PredictionType switch
            {
                PredictionType.Epsilon => (x - sqrtBeta * e) / sqrtAlpha,
                PredictionType.VPrediction => sqrtAlpha * x - sqrtBeta * e,
                _ => e,
            };
            denoised[i] = (float)(cOut * Math.Clamp(x0, -clip, clip) + cSkip * x);
        }
        if (next is not int t) return (denoised, sample);
        var noise = new float[sample.Length];
        generator.Fill(noise);
        double alphaNext = AlphaCumprod(t);
        float[] renoised = new float[sample.Length];
        for (int i = 0; i < sample.Length; i++)
            renoised[i] = (float)(Math.Sqrt(alphaNext) * denoised[i] + Math.Sqrt(1 - alphaNext) * noise[i]);
        return (denoised, renoised);
    }

    /// <summary>The VAE decoder on denoised / scaling factor, then [-1, 1] planes to interleaved RGB bytes.</summary>
    public byte[] Decode(ReferenceRun run, float[] denoised)
    {
        double scaling = run.ScalingFactor ?? _model.VaeScalingFactor;
        using var session = new InferenceSession(_model.VaeDecoderPath);
        using var input = Tensor(session, "latent_sample", Array.ConvertAll(denoised, v => (float)(v / scaling)), run.LatentShape(1));
        using var output = session.Run(Options, ["latent_sample"], [input], ["sample"]);
        Assert.Equal([1L, 3, run.Height, run.Width], output[0].GetTensorTypeAndShape().Shape);
        float[] planes = Floats(output[0]);
        int pixels = run.Width * run.Height;
        var rgb = new byte[3 * pixels];
        for (int c = 0; c < 3; c++)
        for (int i = 0; i < pixels; i++)
            rgb[3 * i + c] = (byte)MathF.Round(Math.Clamp(planes[c * pixels + i] / 2f + 0.5f, 0f, 1f) * 255f);
        return rgb;
    }

    /// <summary>
    /// diffusers' get_guidance_scale_embedding, in float32 as diffusers computes it: the sine
    /// arguments reach thousands, where float64 would give visibly different values.
    /// </summary>
    public static float[] GuidanceEmbedding(double guidance, int dimension)
    {
        int half = dimension / 2;
        float w = (float)(guidance - 1) * 1000f;
        float exponent = MathF.Log(10000f) / Math.Max(half - 1, 1);
        var embedding = new float[dimension];
        for (int j = 0; j < half; j++)
        {
            float argument = w * (float)Math.Exp((float)j * -exponent);
            embedding[j] = (float)Math.Sin(argument);
            embedding[half + j] = (float)Math.Cos(argument);
        }
        return embedding;
    }

    private float[] EncodeImage(ReferenceRun run, RgbImage image, VaeEncoderKind kind)
    {
        int pixels = run.Width * run.Height;
        var planes = new float[3 * pixels];
        for (int i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++)
            planes[c * pixels + i] = image.Rgb[3 * i + c] / 255f * 2f - 1f;
        bool posterior = kind == VaeEncoderKind.LatentParameters;
        using var session = new InferenceSession(_model.VaeEncoderPath!);
        using var input = Tensor(session, "sample", planes, [1, 3, run.Height, run.Width]);
        using var output = session.Run(Options, ["sample"], [input], [posterior ? "latent_parameters" : "latent_sample"]);
        Assert.Equal([1L, posterior ? 8 : 4, run.Height / 8, run.Width / 8], output[0].GetTensorTypeAndShape().Shape);
        return Floats(output[0]);
    }

    /// <summary>
    /// diffusers' alphas_cumprod at a timestep. The betas are rounded to float32 as diffusers builds
    /// them; the product is kept in float64, as the engine's scheduler tests pin it against diffusers.
    /// </summary>
    private double AlphaCumprod(int timestep)
    {
        SchedulerConfig config = _model.Scheduler;
        bool scaled = config.BetaSchedule == BetaSchedule.ScaledLinear;
        double start = scaled ? Math.Sqrt(config.BetaStart) : config.BetaStart;
        double end = scaled ? Math.Sqrt(config.BetaEnd) : config.BetaEnd;
        int n = config.NumTrainTimesteps;
        double product = 1.0;
        for (int i = 0; i <= timestep; i++)
        {
            float beta = (float)(n == 1 ? start : start + (end - start) * i / (n - 1));
            if (scaled) beta *= beta;
            product *= 1.0 - beta;
        }
        return product;
    }

    /// <summary>A float input in the element type its graph declares (float16 graphs, or a float16 UNet beside a float32 VAE).</summary>
    private static OrtValue Tensor(InferenceSession session, string input, float[] data, long[] shape) =>
        session.InputMetadata[input].ElementDataType == TensorElementType.Float16
            ? OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(data, v => (Float16)v), shape)
            : OrtValue.CreateTensorValueFromMemory(data, shape);

    private static float[] Floats(OrtValue value) =>
        value.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16
            ? Array.ConvertAll(value.GetTensorDataAsSpan<Float16>().ToArray(), v => v.ToFloat())
            : value.GetTensorDataAsSpan<float>().ToArray();
}
