using System.Diagnostics;
using Lcm.Contracts;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Models;
using Lcm.Engine.Noise;
using Lcm.Engine.Schedulers;
using Lcm.Engine.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Pipelines;

/// <summary>
/// Text-to-image with a Latent Consistency Model: composes the tokenizer, text encoder, UNet,
/// scheduler and VAE decoder of one model folder. Thread-safe; runs one request (or batch) at a
/// time, since concurrent runs on one device only slow each other down.
/// </summary>
public sealed class LcmEngine : IImageGenerator, IDisposable
{
    /// <summary>Most images in one UNet run where the model's batch dimension is dynamic.</summary>
    public const int MaxUnetBatch = 8;

    private readonly ClipTokenizer _tokenizer;
    private readonly TextEncoder _textEncoder;
    private readonly Unet _unet;
    private readonly VaeDecoder _vaeDecoder;
    // Loaded on the first image-to-image request: text-to-image cold starts do not pay for it.
    private readonly Lazy<VaeEncoder?> _vaeEncoder;
    private readonly SemaphoreSlim _deviceLock = new(1, 1);

    private LcmEngine(ModelFolder model, EngineOptions options, SessionFactory sessions, IReadOnlyList<LoraFile> loras,
        ClipTokenizer tokenizer, TextEncoder textEncoder, Unet unet, VaeDecoder vaeDecoder)
    {
        (Model, Options, ExecutionProvider, ExecutionProviderFallbackReason, Loras) = (model, options, sessions.ActiveProvider, sessions.FallbackReason, loras);
        (_tokenizer, _textEncoder, _unet, _vaeDecoder) = (tokenizer, textEncoder, unet, vaeDecoder);
        _vaeEncoder = new(() => model.VaeEncoderPath is { } path ? new VaeEncoder(new OnnxGraph(path, sessions.Create(path))) : null);
        Scheduler = new LcmScheduler(model.Scheduler);
    }

    public ModelFolder Model { get; }
    public EngineOptions Options { get; }
    public LcmScheduler Scheduler { get; }
    public ClipTokenizer Tokenizer => _tokenizer;
    /// <summary>"CUDA" or "CPU".</summary>
    public string ExecutionProvider { get; }
    public string? ExecutionProviderFallbackReason { get; }

    /// <summary>Each graph by its folder name, for diagnostics (<c>lcm info</c>).</summary>
    public IReadOnlyList<(string Name, OnnxGraph Graph)> Graphs =>
        _vaeEncoder.Value is { } encoder
            ? [("text_encoder", _textEncoder.Graph), ("unet", _unet.Graph), ("vae_decoder", _vaeDecoder.Graph), ("vae_encoder", encoder.Graph)]
            : [("text_encoder", _textEncoder.Graph), ("unet", _unet.Graph), ("vae_decoder", _vaeDecoder.Graph)];

    public int? TimeCondDim => _unet.TimeCondDim;

    /// <summary>The kind of UNet, which decides how guidance works and its default and limit.</summary>
    public ModelKind Kind => _unet.Kind;
    public GuidanceLimits Guidance => GenerationLimits.Guidance(Kind);

    /// <summary>The LoRAs merged into this engine's graphs at load, in order; requests must name exactly these.</summary>
    public IReadOnlyList<LoraFile> Loras { get; }

    /// <summary>
    /// Loads a model folder, with <paramref name="loras"/> merged into its UNet and text encoder first
    /// (cached under <see cref="EngineOptions.MergedModelDirectory"/>) when given.
    /// </summary>
    public static LcmEngine Load(string modelPath, EngineOptions? options = null, ILogger? logger = null, IReadOnlyList<LoraFile>? loras = null)
    {
        options ??= new EngineOptions();
        logger ??= NullLogger.Instance;
        var model = ModelFolder.Open(modelPath);
        var tokenizer = ClipTokenizer.FromFolder(model.TokenizerDirectory);
        loras ??= [];
        var paths = loras.Count == 0 ? new GraphPaths(model.TextEncoderPath, model.UnetPath)
            : new MergedModels(options.MergedModelDirectory ?? throw new InvalidOperationException("EngineOptions.MergedModelDirectory must be set to merge LoRAs"), logger)
                .GetOrMerge(model, loras);
        var sessions = new SessionFactory(options, logger);
        var graphs = new List<IDisposable>();
        try
        {
            OnnxGraph Open(string path)
            {
                var graph = new OnnxGraph(path, sessions.Create(path));
                graphs.Add(graph);
                return graph;
            }
            var textEncoder = new TextEncoder(Open(paths.TextEncoder));
            var unet = new Unet(Open(paths.Unet), model.TimeCondProjDim);
            var vaeDecoder = new VaeDecoder(Open(model.VaeDecoderPath));
            if (textEncoder.HiddenSize is int te && unet.HiddenSize is int un && te != un)
                throw new ModelFormatException($"'{model.TextEncoderPath}' gives hidden states of width {te} but '{model.UnetPath}' input 'encoder_hidden_states' expects {un}");
            logger.LogInformation("Loaded LCM model {Model} on {Provider}", model.Root, sessions.ActiveProvider);
            return new LcmEngine(model, options, sessions, loras, tokenizer, textEncoder, unet, vaeDecoder);
        }
        catch
        {
            graphs.ForEach(g => g.Dispose());
            throw;
        }
    }

    /// <summary>
    /// One throw-away generation at the configured shape when <see cref="EngineOptions.WarmUp"/> asks for
    /// it (by default on CUDA, where the first run of a shape sets up kernels and memory): a start-up
    /// cost instead of the first job's.
    /// </summary>
    public void WarmUpIfConfigured(ILogger? logger = null)
    {
        if (!(Options.WarmUp ?? ExecutionProvider == "CUDA")) return;
        var started = Stopwatch.StartNew();
        int size = Math.Min(Options.WarmUpSize, Options.MaxImageSize);
        int width = _unet.FixedLatentWidth * 8 ?? size, height = _unet.FixedLatentHeight * 8 ?? size;
        Generate(new GenerationRequest { Prompt = "warm-up", Width = width, Height = height, Steps = 1, Seed = 0 });
        logger?.LogInformation("Warm-up run at {Width}x{Height} took {Ms:F0} ms", width, height, started.Elapsed.TotalMilliseconds);
    }

    /// <summary>Checks a request against the limits and this model; throws <see cref="InvalidRequestException"/>.</summary>
    public void Validate(GenerationRequest request)
    {
        request.Validate(Options.MaxImageSize, Model.Scheduler.OriginalInferenceSteps, Guidance.Max);
        if (!request.Loras.SequenceEqual(Loras.Select(l => l.Reference)))
            throw new InvalidRequestException("invalid_loras",
                $"this engine has {Describe(Loras.Select(l => l.Reference))} merged; the request asks for {Describe(request.Loras)}");
        if (_unet.FixedLatentHeight is int h && request.Height != h * 8)
            throw new InvalidRequestException("invalid_height", $"this model only generates images {h * 8} pixels high, found {request.Height}");
        if (_unet.FixedLatentWidth is int w && request.Width != w * 8)
            throw new InvalidRequestException("invalid_width", $"this model only generates images {w * 8} pixels wide, found {request.Width}");
        if (request.InitImage is not null && Model.VaeEncoderPath is null)
            throw new InvalidRequestException("image_to_image_unsupported", $"model folder '{Model.Root}' has no vae_encoder/model.onnx, which image-to-image needs");
        try
        {
            Scheduler.Timesteps(request.Steps, request.EffectiveStrength);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidRequestException("invalid_strength", e.Message.Split(" (Parameter")[0]);
        }
    }

    public GenerationResult Generate(GenerationRequest request, IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default) =>
        GenerateBatch([request], progress, cancellationToken)[0];

    /// <summary>Runs <see cref="Generate"/> on the thread pool, so the caller's I/O goes on meanwhile.</summary>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken) =>
        Task.Run(() => Generate(request, progress, cancellationToken), cancellationToken);

    /// <summary>
    /// Runs several requests of the same size and steps as shared UNet batches. Every image keeps
    /// its own seeded noise, so its pixels do not depend on what it was batched with, up to float
    /// rounding: ONNX Runtime's kernels may sum in another order for another batch size (batch 1
    /// against 2 or more on the CPU), which can move a pixel by one level.
    /// </summary>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<GenerationRequest> requests,
        IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (requests.Count == 0) return [];
        foreach (var request in requests)
        {
            Validate(request);
            if (request.BatchKey != requests[0].BatchKey)
                throw new ArgumentException("requests in one batch must share width, height, steps and strength", nameof(requests));
        }
        _deviceLock.Wait(cancellationToken);
        try
        {
            using var runOptions = new RunOptions();
            // Terminate stops a UNet run midway, so a cancel does not wait for the step to finish.
            using var registration = cancellationToken.Register(() => runOptions.Terminate = true);
            return Run(requests, progress, runOptions, cancellationToken);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        finally
        {
            _deviceLock.Release();
        }
    }

    private IReadOnlyList<GenerationResult> Run(IReadOnlyList<GenerationRequest> requests, IProgress<StepProgress>? progress,
        RunOptions runOptions, CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        double ortMs = 0;
        T Timed<T>(Func<T> run, ref double stageMs)
        {
            long start = Stopwatch.GetTimestamp();
            T result = run();
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            stageMs += ms;
            ortMs += ms;
            return result;
        }

        var first = requests[0];
        int latentHeight = first.Height / 8, latentWidth = first.Width / 8, latentSize = Unet.LatentChannels * latentHeight * latentWidth;

        var guidance = requests.Select(r => r.GuidanceScale ?? Guidance.Default).ToArray();
        long tokenizeStart = Stopwatch.GetTimestamp();
        var prompts = requests.Select(r => _tokenizer.Encode(r.Prompt)).ToArray();
        var negatives = _unet.NeedsUnconditional(guidance) ? requests.Select(r => _tokenizer.Encode(r.NegativePrompt ?? "")).ToArray() : null;
        double tokenizeMs = Stopwatch.GetElapsedTime(tokenizeStart).TotalMilliseconds;
        double textEncoderMs = 0;
        float[] hidden = Timed(() => _textEncoder.Encode(prompts.Select(p => p.Ids).ToArray(), runOptions), ref textEncoderMs);
        float[]? negativeHidden = negatives is null ? null : Timed(() => _textEncoder.Encode(negatives.Select(p => p.Ids).ToArray(), runOptions), ref textEncoderMs);
        int promptStates = hidden.Length / requests.Count;
        int hiddenSize = promptStates / ClipTokenizer.MaxLength;

        var images = new List<PendingImage>();
        for (int r = 0; r < requests.Count; r++)
        {
            long seed = requests[r].Seed ?? Random.Shared.NextInt64(0, RequestLimits.MaxSeed + 1);
            for (int i = 0; i < requests[r].Count; i++)
                images.Add(new PendingImage(r, (seed + i) % (RequestLimits.MaxSeed + 1), latentSize));
        }

        int[] timesteps = Scheduler.Timesteps(first.Steps, first.EffectiveStrength);
        double vaeEncoderMs = 0;
        var encoded = requests.Select(r => r.InitImage is null ? null
            : Timed(() => _vaeEncoder.Value!.Encode(r.InitImage, runOptions), ref vaeEncoderMs)).ToArray();
        var stepMs = new double[timesteps.Length];
        int chunkSize = _unet.FixedBatch ?? MaxUnetBatch;
        double vaeMs = 0;
        foreach (var chunk in images.Chunk(chunkSize))
        {
            float[] samples = new float[chunk.Length * latentSize];
            float[] states = new float[chunk.Length * promptStates];
            float[]? unconditional = negativeHidden is null ? null : new float[chunk.Length * promptStates];
            double[] chunkGuidance = chunk.Select(image => guidance[image.Request]).ToArray();
            for (int i = 0; i < chunk.Length; i++)
            {
                StartLatents(chunk[i], encoded[chunk[i].Request], timesteps[0], samples.AsSpan(i * latentSize, latentSize));
                hidden.AsSpan(chunk[i].Request * promptStates, promptStates).CopyTo(states.AsSpan(i * promptStates));
                negativeHidden?.AsSpan(chunk[i].Request * promptStates, promptStates).CopyTo(unconditional.AsSpan(i * promptStates));
            }
            var noise = new float[latentSize];
            for (int s = 0; s < timesteps.Length; s++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int t = timesteps[s];
                int? next = s + 1 < timesteps.Length ? timesteps[s + 1] : null;
                float[] output = Timed(() => _unet.Predict(samples, chunk.Length, latentHeight, latentWidth, t, states, hiddenSize, chunkGuidance, unconditional, runOptions), ref stepMs[s]);
                for (int i = 0; i < chunk.Length; i++)
                {
                    if (next is not null) chunk[i].Noise.Fill(noise);
                    Scheduler.Step(output.AsSpan(i * latentSize, latentSize), t, next,
                        samples.AsSpan(i * latentSize, latentSize), noise, chunk[i].Denoised);
                }
                progress?.Report(new StepProgress(s + 1, timesteps.Length, total.Elapsed));
            }
            foreach (var image in chunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                float[] latents = Array.ConvertAll(image.Denoised, v => (float)(v / Model.VaeScalingFactor));
                image.Rgb = Timed(() => _vaeDecoder.Decode(latents, latentHeight, latentWidth, runOptions), ref vaeMs);
            }
        }

        var timings = new GenerationTimings
        {
            TokenizeMs = tokenizeMs,
            TextEncoderMs = textEncoderMs,
            UnetStepMs = stepMs,
            VaeDecoderMs = vaeMs,
            VaeEncoderMs = vaeEncoderMs,
            TotalMs = total.Elapsed.TotalMilliseconds,
            OrtMs = ortMs,
        };
        return requests.Select((request, r) => new GenerationResult(
            images.Where(i => i.Request == r).Select(i => new GeneratedImage(i.Rgb!, request.Width, request.Height, i.Seed)).ToArray(),
            Warnings(request, guidance[r], prompts[r], negatives?[r]),
            timings)).ToArray();
    }

    /// <summary>
    /// Text-to-image starts from the image's noise; image-to-image from the init image's latents
    /// (sampled with the image's generator where the encoder returns parameters), scaled, then
    /// noised to the first timestep. The generator's draws come in diffusers' order: posterior, then noise.
    /// </summary>
    private void StartLatents(PendingImage image, float[]? encoded, int firstTimestep, Span<float> sample)
    {
        if (encoded is null)
        {
            image.Noise.Fill(sample);
            return;
        }
        var latents = new float[sample.Length];
        if (_vaeEncoder.Value!.ReturnsParameters)
        {
            var z = new float[sample.Length];
            image.Noise.Fill(z);
            VaeEncoder.Sample(encoded, z, latents);
        }
        else
        {
            encoded.CopyTo(latents, 0);
        }
        for (int i = 0; i < latents.Length; i++) latents[i] = (float)(latents[i] * Model.VaeScalingFactor);
        var noise = new float[sample.Length];
        image.Noise.Fill(noise);
        Scheduler.AddNoise(latents, noise, firstTimestep, sample);
    }

    private string[] Warnings(GenerationRequest request, double guidance, TokenizedPrompt prompt, TokenizedPrompt? negative)
    {
        var warnings = new List<string>();
        if (prompt.Truncated)
            warnings.Add($"prompt is {prompt.TokenCount} tokens long; only the first {ClipTokenizer.MaxLength - 2} were used");
        bool unconditional = _unet.NeedsUnconditional([guidance]);
        if (!string.IsNullOrEmpty(request.NegativePrompt) && !unconditional)
            warnings.Add(Kind == ModelKind.Distilled
                ? "negativePrompt is ignored: a distilled LCM has no unconditional pass"
                : $"negativePrompt is ignored at guidanceScale {guidance} (classifier-free guidance runs only above 1)");
        if (unconditional && negative!.Truncated)
            warnings.Add($"negativePrompt is {negative.TokenCount} tokens long; only the first {ClipTokenizer.MaxLength - 2} were used");
        return [.. warnings];
    }

    private static string Describe(IEnumerable<LoraReference> loras) =>
        loras.Any() ? string.Join(", ", loras.Select(l => $"'{l.Name}' at {l.Scale}")) : "no LoRAs";

    public void Dispose()
    {
        _textEncoder.Dispose();
        _unet.Dispose();
        _vaeDecoder.Dispose();
        if (_vaeEncoder.IsValueCreated) _vaeEncoder.Value?.Dispose();
        _deviceLock.Dispose();
    }

    private sealed class PendingImage(int request, long seed, int latentSize)
    {
        public int Request { get; } = request;
        public long Seed { get; } = seed;
        public GaussianNoise Noise { get; } = new((ulong)seed);
        public float[] Denoised { get; } = new float[latentSize];
        public byte[]? Rgb { get; set; }
    }
}
