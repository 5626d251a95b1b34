namespace Lcm.Engine.Schedulers;

/// <summary>
/// diffusers' LCMScheduler as pure maths: the schedule, the inference timesteps and one
/// consistency step. Holds no state between requests, so one instance serves every thread.
/// </summary>
public sealed class LcmScheduler
{
    private const double SigmaData = 0.5;
    private readonly double[] _alphasCumprod;
    private readonly double _finalAlphaCumprod;

    public LcmScheduler(SchedulerConfig config)
    {
        if (config.Problem() is { } problem) throw new ArgumentException(problem, nameof(config));
        Config = config;
        _alphasCumprod = AlphasCumprod(config);
        _finalAlphaCumprod = config.SetAlphaToOne ? 1.0 : _alphasCumprod[0];
    }

    public SchedulerConfig Config { get; }

    public double AlphaCumprod(int timestep) => timestep >= 0 ? _alphasCumprod[timestep] : _finalAlphaCumprod;

    /// <summary>
    /// The LCM timesteps for a run: the "origin" schedule of original_inference_steps evenly spaced
    /// training steps, cut by strength, then sampled at evenly spaced indices (diffusers' set_timesteps).
    /// </summary>
    public int[] Timesteps(int steps, double strength = 1.0)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be at least 1");
        int originalSteps = Config.OriginalInferenceSteps;
        if (steps > originalSteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps,
                $"steps ({steps}) cannot exceed the model's original_inference_steps ({originalSteps})");
        int k = Config.NumTrainTimesteps / originalSteps;
        // Python's int(original_steps * strength): truncation of the double product.
        int originCount = (int)(originalSteps * strength);
        if (originCount < steps)
            throw new ArgumentOutOfRangeException(nameof(strength), strength,
                $"original_inference_steps x strength ({originalSteps} x {strength}) is smaller than steps ({steps}): " +
                $"use at most {originCount} steps or a strength of at least {(double)steps / originalSteps}");
        var timesteps = new int[steps];
        for (int i = 0; i < steps; i++)
        {
            // numpy.linspace(0, n, steps, endpoint=False): i * (n / steps), floored.
            int index = (int)Math.Floor(i * ((double)originCount / steps));
            timesteps[i] = (originCount - index) * k - 1;
        }
        return timesteps;
    }

    /// <summary>
    /// The timesteps diffusers' generic image-to-image pipelines run with an LCMScheduler: the whole
    /// schedule for <paramref name="steps"/>, then only its last min(floor(steps x strength), steps)
    /// (get_timesteps), so 4 steps at strength 0.5 run 499, 259.
    /// </summary>
    public int[] ImageToImageTimesteps(int steps, double strength)
    {
        int[] schedule = Timesteps(steps);
        // Python's int(num_inference_steps * strength): truncation of the double product.
        int kept = Math.Min((int)(steps * strength), steps);
        if (kept < 1)
            throw new ArgumentOutOfRangeException(nameof(strength), strength,
                $"steps x strength ({steps} x {strength}) is less than one step: use a strength of at least {1.0 / steps} or more steps");
        return schedule[^kept..];
    }

    /// <summary>The boundary-condition scalings (c_skip, c_out) of consistency models at a timestep.</summary>
    public (double CSkip, double COut) Scalings(int timestep)
    {
        double s = timestep * Config.TimestepScaling;
        double s2 = s * s + SigmaData * SigmaData;
        return (SigmaData * SigmaData / s2, s / Math.Sqrt(s2));
    }

    /// <summary>
    /// One LCM step for one image. Writes the model's denoised estimate to <paramref name="denoised"/>;
    /// when <paramref name="nextTimestep"/> is not null, also writes the sample for that timestep to
    /// <paramref name="sample"/> (renoised with <paramref name="noise"/>), as diffusers does before
    /// every step but the last.
    /// </summary>
    public void Step(ReadOnlySpan<float> modelOutput, int timestep, int? nextTimestep, Span<float> sample,
        ReadOnlySpan<float> noise, Span<float> denoised)
    {
        double alpha = AlphaCumprod(timestep);
        double sqrtAlpha = Math.Sqrt(alpha), sqrtBeta = Math.Sqrt(1 - alpha);
        var (cSkip, cOut) = Scalings(timestep);
        double clip = Config.ClipSample ? Config.ClipSampleRange : double.PositiveInfinity;
        var prediction = Config.PredictionType;
        for (int i = 0; i < sample.Length; i++)
        {
            double x = sample[i], e = modelOutput[i];
            double x0 = prediction switch
            {
                PredictionType.Epsilon => (x - sqrtBeta * e) / sqrtAlpha,
                PredictionType.VPrediction => sqrtAlpha * x - sqrtBeta * e,
                _ => e,
            };
            x0 = Math.Clamp(x0, -clip, clip);
            denoised[i] = (float)(cOut * x0 + cSkip * x);
        }
        if (nextTimestep is not int next) return;
        double alphaNext = AlphaCumprod(next);
        double sqrtAlphaNext = Math.Sqrt(alphaNext), sqrtBetaNext = Math.Sqrt(1 - alphaNext);
        for (int i = 0; i < sample.Length; i++)
            sample[i] = (float)(sqrtAlphaNext * denoised[i] + sqrtBetaNext * noise[i]);
    }

    /// <summary>diffusers' add_noise: the clean sample noised to a timestep, sqrt(a_t) * x + sqrt(1 - a_t) * noise.</summary>
    public void AddNoise(ReadOnlySpan<float> original, ReadOnlySpan<float> noise, int timestep, Span<float> destination)
    {
        double alpha = AlphaCumprod(timestep);
        double sqrtAlpha = Math.Sqrt(alpha), sqrtBeta = Math.Sqrt(1 - alpha);
        for (int i = 0; i < destination.Length; i++) destination[i] = (float)(sqrtAlpha * original[i] + sqrtBeta * noise[i]);
    }

    private static double[] AlphasCumprod(SchedulerConfig config)
    {
        int n = config.NumTrainTimesteps;
        bool scaled = config.BetaSchedule == BetaSchedule.ScaledLinear;
        double start = scaled ? Math.Sqrt(config.BetaStart) : config.BetaStart;
        double end = scaled ? Math.Sqrt(config.BetaEnd) : config.BetaEnd;
        var result = new double[n];
        double product = 1.0;
        for (int i = 0; i < n; i++)
        {
            // diffusers builds the betas in float32; the rounding is kept so values match to 1e-7.
            float beta = (float)(n == 1 ? start : start + (end - start) * i / (n - 1));
            if (scaled) beta *= beta;
            product *= 1.0 - beta;
            result[i] = product;
        }
        return result;
    }
}
