using System.Diagnostics;
using Lcm.Contracts;
using Lcm.Engine.Guidance;
using Lcm.Engine.Imaging;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Memory;
using Lcm.Engine.Models;
using Lcm.Engine.Noise;
using Lcm.Engine.Schedulers;
using Lcm.Engine.Text;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Lcm.Engine.Pipelines;

/// <summary>
/// Text-to-image and image-to-image with a Latent Consistency Model, in diffusers' phases: encode
/// the prompts, prepare the latents, denoise (the scheduler's steps over the guided UNet), decode.
/// Thread-safe; runs one request (or batch) at a time, since concurrent runs on one device only
/// slow each other down. <see cref="LcmPipelineLoader"/> builds it from a model folder.
/// </summary>
public sealed class LcmEngine : IImageGenerator, IDisposable
{
    /// <summary>Most images in one UNet run where the model's batch dimension is dynamic.</summary>
    public const int MaxUnetBatch = 8;

    private readonly PromptEncoder _prompts;
    private readonly Unet _unet;
    private readonly IGuidance _guidance;
    private readonly LastBoundSteps _boundSteps;
    private readonly VaeDecoder _vaeDecoder;
    // Loaded on the first image-to-image request (the tiny one on the first with the tiny decoder): text-to-image cold starts do not pay for them.
    private readonly Lazy<VaeEncoder?> _vaeEncoder, _tinyEncoder;
    // Likewise on the first request (or preview) that decodes with them; null values where there is none.
    private readonly Lazy<VaeDecoder?> _tinyDecoder, _previewDecoder;
    private readonly SemaphoreSlim _deviceLock = new(1, 1);

    internal LcmEngine(ModelFolder model, EngineOptions options, SessionFactory sessions, IReadOnlyList<LoraFile> loras,
        PromptEncoder prompts, Unet unet, IGuidance guidance, VaeDecoder vaeDecoder, MemoryBudget memory, TinyVaePaths tinyDecoders)
    {
        (Model, Options, ExecutionProvider, ExecutionProviderFallbackReason, Loras) = (model, options, sessions.ActiveProvider, sessions.FallbackReason, loras);
        (_prompts, _unet, _guidance, _vaeDecoder) = (prompts, unet, guidance, vaeDecoder);
        _boundSteps = new LastBoundSteps(guidance);
        _vaeEncoder = new(() => model.VaeEncoderPath is { } path ? new VaeEncoder(new OnnxGraph(path, sessions.Create(path)), model.VaeScalingFactor) : null);
        _tinyEncoder = new(() => tinyDecoders.Encoder is { } path
            ? new VaeEncoder(new OnnxGraph(path, sessions.Create(path)), ModelFolder.ScalingFactorBeside(path, ModelFolder.TinyVaeScalingFactor)) : null);
        _tinyDecoder = TinyDecoder(tinyDecoders.Tiny, sessions);
        _previewDecoder = tinyDecoders.Preview == tinyDecoders.Tiny ? _tinyDecoder : TinyDecoder(tinyDecoders.Preview, sessions);
        Scheduler = new LcmScheduler(model.Scheduler);
        int defaultSize = Math.Min(GenerationLimits.DefaultSize(model.Family, model.UnetSampleSize), options.MaxImageSize);
        Capabilities = new EngineCapabilities
        {
            Kind = guidance.Kind,
            ModelName = Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Root)),
            Family = model.Family,
            Guidance = GenerationLimits.Guidance(model.Family, guidance.Kind),
            DefaultWidth = unet.FixedLatentWidth * 8 ?? defaultSize,
            DefaultHeight = unet.FixedLatentHeight * 8 ?? defaultSize,
            ImageToImage = GenerationLimits.ImageToImage(model.Family, guidance.Kind),
            MaxImageSize = options.MaxImageSize,
            FixedWidth = unet.FixedLatentWidth * 8,
            FixedHeight = unet.FixedLatentHeight * 8,
            SupportsImageToImage = model.VaeEncoderPath is not null,
            SupportsTinyDecoder = tinyDecoders.Tiny is not null,
            OriginalSteps = model.Scheduler.OriginalInferenceSteps,
            MaxSteps = Math.Min(RequestLimits.MaxSteps, model.Scheduler.OriginalInferenceSteps),
            LoraNames = loras.Select(l => l.Name).ToArray(),
            Memory = memory,
        };
    }

    private static Lazy<VaeDecoder?> TinyDecoder(string? path, SessionFactory sessions) => new(() => path is null ? null
        : new VaeDecoder(new OnnxGraph(path, sessions.Create(path)), ModelFolder.ScalingFactorBeside(path, ModelFolder.TinyVaeScalingFactor)));

    public ModelFolder Model { get; }
    public EngineOptions Options { get; }
    public LcmScheduler Scheduler { get; }
    public ClipTokenizer Tokenizer => _prompts.Tokenizer;
    public ActiveProvider ExecutionProvider { get; }
    public string? ExecutionProviderFallbackReason { get; }
    public EngineCapabilities Capabilities { get; }

    /// <summary>Each graph by its folder name, for diagnostics (<c>lcm info</c>).</summary>
    public IReadOnlyList<(string Name, OnnxGraph Graph)> Graphs =>
        [.. _prompts.Graphs, ("unet", _unet.Graph), ("vae_decoder", _vaeDecoder.Graph),
            .. _vaeEncoder.Value is { } encoder ? [("vae_encoder", encoder.Graph)] : Array.Empty<(string, OnnxGraph)>(),
            .. _tinyDecoder.Value is { } tiny ? [("vae_decoder_tiny", tiny.Graph)] : Array.Empty<(string, OnnxGraph)>(),
            .. _tinyEncoder.Value is { } tinyEncoder ? [("vae_encoder_tiny", tinyEncoder.Graph)] : Array.Empty<(string, OnnxGraph)>()];

    public int? TimeCondDim => _unet.TimeCondDim;

    /// <summary>The kind of UNet, which decides how guidance works and its default and limit.</summary>
    public ModelKind Kind => Capabilities.Kind;

    /// <summary>The LoRAs merged into this engine's graphs at load, in order; requests must name exactly these.</summary>
    public IReadOnlyList<LoraFile> Loras { get; }

    /// <inheritdoc cref="LcmPipelineLoader.Load"/>
    public static LcmEngine Load(string modelPath, EngineOptions? options = null, ILogger? logger = null, IReadOnlyList<LoraFile>? loras = null) =>
        LcmPipelineLoader.Load(modelPath, options, logger, loras);

    /// <summary>
    /// One throw-away generation at the configured shape when <see cref="EngineOptions.WarmUp"/> asks for
    /// it (by default on CUDA, where the first run of a shape sets up kernels and memory): a start-up
    /// cost instead of the first job's.
    /// </summary>
    public void WarmUpIfConfigured(ILogger? logger = null)
    {
        if (!(Options.WarmUp ?? ExecutionProvider == ActiveProvider.CUDA)) return;
        var started = Stopwatch.StartNew();
        int size = Math.Min(Options.WarmUpSize, Options.MaxImageSize);
        int width = Capabilities.FixedWidth ?? size, height = Capabilities.FixedHeight ?? size;
        Generate(new GenerationRequest { Prompt = "warm-up", Width = width, Height = height, Steps = 1, Seed = 0 });
        logger?.LogInformation("Warm-up run at {Width}x{Height} took {Ms:F0} ms", width, height, started.Elapsed.TotalMilliseconds);
    }

    /// <summary>Checks a request against <see cref="Capabilities"/> and this engine's LoRAs; throws <see cref="InvalidRequestException"/>.</summary>
    public void Validate(GenerationRequest request)
    {
        var can = Capabilities;
        request.Validate(can.MaxImageSize, can.MaxSteps, can.Guidance.Max);
        if (!request.Loras.SequenceEqual(Loras.Select(l => l.Reference)))
            throw new InvalidRequestException(JobErrorCodes.InvalidLoras,
                $"this engine has {Describe(Loras.Select(l => l.Reference))} merged; the request asks for {Describe(request.Loras)}");
        if (can.FixedHeight is int height && request.Height != height)
            throw new InvalidRequestException(JobErrorCodes.InvalidHeight, $"this model only generates images {height} pixels high, found {request.Height}");
        if (can.FixedWidth is int width && request.Width != width)
            throw new InvalidRequestException(JobErrorCodes.InvalidWidth, $"this model only generates images {width} pixels wide, found {request.Width}");
        can.Memory.Check(request.Width, request.Height, request.Count, count => UnetBatch(count, _guidance.NeedsNegativePrompts([request.GuidanceScale ?? can.Guidance.Default])));
        if (request.InitImage is not null && !can.SupportsImageToImage)
            throw new InvalidRequestException(JobErrorCodes.ImageToImageUnsupported, $"model folder '{Model.Root}' has no vae_encoder/model.onnx, which image-to-image needs");
        if (request.Decoder == VaeDecoderKind.Tiny && !can.SupportsTinyDecoder)
            throw new InvalidRequestException(JobErrorCodes.TinyDecoderUnavailable,
                $"model folder '{Model.Root}' has no vae_decoder_tiny/model.onnx and LCM_TINY_VAE_PATH is not set; add a TAESD (SD 1.5) or TAESDXL (SDXL) " +
                "decoder exported to ONNX, or ask for \"decoder\": \"full\"");
        try
        {
            Timesteps(request);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidRequestException(JobErrorCodes.InvalidStrength, e.Message.Split(" (Parameter")[0]);
        }
    }

    /// <summary>Whether requests that passed <see cref="Validate"/> alone also fit in memory as one batch.</summary>
    internal bool FitsAsOneBatch(IReadOnlyList<GenerationRequest> requests)
    {
        bool unconditional = _guidance.NeedsNegativePrompts(requests.Select(r => r.GuidanceScale ?? Capabilities.Guidance.Default));
        return Capabilities.Memory.Fits(requests[0].Width, requests[0].Height, UnetBatch(requests.Sum(r => r.Count), unconditional));
    }

    /// <summary>Latents in one UNet run for <paramref name="images"/> images: one chunk, doubled by an unconditional pass, in the graph's fixed batch.</summary>
    private int UnetBatch(int images, bool unconditional)
    {
        int latents = Math.Min(images, _unet.FixedBatch ?? MaxUnetBatch) * (unconditional ? 2 : 1);
        return Math.Min(latents, _unet.FixedBatch ?? latents);
    }

    public GenerationResult Generate(GenerationRequest request, IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default) =>
        GenerateBatch([request], progress, cancellationToken)[0];

    /// <summary>Runs a validated request on the thread pool, so the caller's I/O goes on meanwhile.</summary>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<StepProgress>? progress, CancellationToken cancellationToken) =>
        Task.Run(() => GenerateValidated([request], progress, cancellationToken)[0], cancellationToken);

    /// <summary>
    /// Runs several requests of the same size and steps as shared UNet batches. Every image keeps
    /// its own seeded noise, so its pixels do not depend on what it was batched with, up to float
    /// rounding: ONNX Runtime's kernels may sum in another order for another batch size (batch 1
    /// against 2 or more on the CPU), which can move a pixel by one level.
    /// </summary>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<GenerationRequest> requests,
        IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        foreach (var request in requests) Validate(request);
        return GenerateValidated(requests, progress, cancellationToken);
    }

    /// <summary><see cref="GenerateBatch"/> of requests that have passed <see cref="Validate"/> already.</summary>
    internal IReadOnlyList<GenerationResult> GenerateValidated(IReadOnlyList<GenerationRequest> requests,
        IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (requests.Count == 0) return [];
        if (requests.Any(request => request.BatchKey != requests[0].BatchKey))
            throw new ArgumentException("requests in one batch must share width, height, steps and strength", nameof(requests));
        _deviceLock.Wait(cancellationToken);
        try
        {
            using var runOptions = new RunOptions();
            // Terminate stops a UNet run midway, so a cancel does not wait for the step to finish.
            using var registration = cancellationToken.Register(() => runOptions.Terminate = true);
            int[] timesteps = Timesteps(requests[0]);
            int images = requests.Sum(r => r.Count);
            using var span = LcmTelemetry.Source.StartActivity("lcm.generate");
            span?.SetTag("lcm.images", images);
            span?.SetTag("lcm.steps", timesteps.Length);
            LcmTelemetry.BatchImages.Record(images);
            return Run(requests, timesteps, new PipelineRun(runOptions, progress, cancellationToken, timesteps.Length));
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (Exception e) when (OutOfMemorySign(e) is { } sign)
        {
            throw new InvalidRequestException(JobErrorCodes.OutOfMemory,
                $"the run of {requests.Sum(r => r.Count)} images at {requests[0].Width}x{requests[0].Height} ran out of memory ({sign}); " +
                "ask for a smaller size or count, or lower LCM_MEMORY_BUDGET_MB so that such requests are refused before they run");
        }
        finally
        {
            _deviceLock.Release();
        }
    }

    /// <summary>The request's timesteps: text-to-image the whole schedule, image-to-image by <see cref="EngineCapabilities.ImageToImage"/>.</summary>
    private int[] Timesteps(GenerationRequest request) => Capabilities.ImageToImage == ImageToImageRule.LcmStrength
        ? Scheduler.Timesteps(request.Steps, request.EffectiveStrength)
        : Scheduler.ImageToImageTimesteps(request.Steps, request.EffectiveStrength);

    private IReadOnlyList<GenerationResult> Run(IReadOnlyList<GenerationRequest> requests, int[] timesteps, PipelineRun run)
    {
        var first = requests[0];
        var image = LatentShape.FromImage(first.Width, first.Height);

        // 1. Encode the prompts, and the negative prompts where the guidance needs them.
        var (conditioning, warnings) = EncodePrompts(requests, run);
        // Previews are drawn off this thread between steps: their decoder's session is made now, not in the first one's time.
        if (requests.Any(r => r.Preview is not null)) _ = _previewDecoder.Value;
        // 2. Prepare latents, from each image's seeded noise or its request's init image noised to the first timestep.
        var images = SeedImages(requests, image);
        var initLatents = EncodeInitImages(requests, run);
        foreach (var chunk in images.Chunk(_unet.FixedBatch ?? MaxUnetBatch))
        {
            run.StartChunk(Array.IndexOf(images, chunk[0]), images.Length);
            float[] latents = PrepareLatents(chunk, initLatents, timesteps[0], image);
            // 3. Denoise: each of the scheduler's steps on the guided UNet prediction.
            Denoise(chunk, requests, latents, image with { Batch = chunk.Length }, conditioning.ForImages([.. chunk.Select(i => i.Request)]), timesteps, run);
            // 4. Decode each image's denoised latents to pixels, with the decoder its request asks for.
            Decode(chunk, requests, image, run);
        }

        var timings = run.Timings();
        return requests.Select((request, r) => new GenerationResult(
            images.Where(i => i.Request == r).Select(i => new GeneratedImage(i.Rgb!, request.Width, request.Height, i.Seed)).ToArray(),
            warnings[r], timings)).ToArray();
    }

    private (PromptConditioning Conditioning, string[][] Warnings) EncodePrompts(IReadOnlyList<GenerationRequest> requests, PipelineRun run)
    {
        double[] scales = requests.Select(r => r.GuidanceScale ?? Capabilities.Guidance.Default).ToArray();
        long start = Stopwatch.GetTimestamp();
        var prompts = requests.Select(r => _prompts.Tokenize(r.Prompt)).ToArray();
        // Null where the negative embeddings are zeros rather than an encoded text.
        var negatives = _guidance.NeedsNegativePrompts(scales)
            ? requests.Select(r => r.NegativePrompt is null && _prompts.ZerosForAbsentNegative ? null : _prompts.Tokenize(r.NegativePrompt ?? "")).ToArray()
            : null;
        run.TokenizeMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var embeds = run.Prompts(run.Ort("lcm.text_encode", ref run.TextEncoderMs, () => _prompts.Encode(prompts, run.Options)));
        var negativeEmbeds = negatives is null ? null
            : run.Prompts(run.Ort("lcm.text_encode", ref run.TextEncoderMs, () => _prompts.Encode(negatives, run.Options, zerosLike: embeds)));
        var warnings = requests.Select((r, i) => Warnings(r, scales[i], prompts[i], negatives?[i])).ToArray();
        return (new PromptConditioning(embeds, negativeEmbeds, _unet.TakesAddedConditions ? TimeIds(requests) : null, scales), warnings);
    }

    /// <summary>SDXL's add_time_ids of each request: original size, crop top-left (0, 0), target size, as (height, width).</summary>
    private static float[] TimeIds(IReadOnlyList<GenerationRequest> requests) =>
        requests.SelectMany(r => new float[] { r.Height, r.Width, 0, 0, r.Height, r.Width }).ToArray();

    /// <summary>Image i of a request gets seed + i; a request without a seed draws one.</summary>
    private static PendingImage[] SeedImages(IReadOnlyList<GenerationRequest> requests, LatentShape image)
    {
        var images = new List<PendingImage>();
        for (int r = 0; r < requests.Count; r++)
        {
            long seed = requests[r].Seed ?? Random.Shared.NextInt64(0, RequestLimits.MaxSeed + 1);
            for (int i = 0; i < requests[r].Count; i++)
                images.Add(new PendingImage(r, i, (seed + i) % (RequestLimits.MaxSeed + 1), image.Length));
        }
        return [.. images];
    }

    private EncodedImage?[] EncodeInitImages(IReadOnlyList<GenerationRequest> requests, PipelineRun run) =>
        requests.Select(r => r.InitImage is null ? null : Encode(r, run)).ToArray();

    /// <summary>
    /// With the tiny decoder, the tiny encoder where there is one: the speed matters more than the details
    /// there (real time). It needs no tiles, as the tiny decoder does not.
    /// </summary>
    private EncodedImage Encode(GenerationRequest request, PipelineRun run)
    {
        var (encoder, tiles) = request.Decoder == VaeDecoderKind.Tiny && _tinyEncoder.Value is { } tiny
            ? (tiny, null) : (_vaeEncoder.Value!, VaeTiling(request.Width, request.Height));
        return new(encoder, run.Ort("lcm.vae_encode", ref run.VaeEncoderMs, () => encoder.Encode(request.InitImage!, run.Options, tiles)));
    }

    private sealed record EncodedImage(VaeEncoder Encoder, float[] Values);

    /// <summary>The VAE's tiles for this size, where the memory budget asks for them.</summary>
    private VaeTiling? VaeTiling(int width, int height) => Capabilities.Memory.VaeTile(width, height) is int tile ? new VaeTiling(tile) : null;

    /// <summary>The starting latents of one UNet batch, image after image.</summary>
    private float[] PrepareLatents(PendingImage[] chunk, EncodedImage?[] initLatents, int firstTimestep, LatentShape image)
    {
        var samples = new float[chunk.Length * image.Length];
        for (int i = 0; i < chunk.Length; i++)
            StartLatents(chunk[i], initLatents[chunk[i].Request], firstTimestep, samples.AsSpan(i * image.Length, image.Length));
        return samples;
    }

    /// <summary>
    /// Text-to-image starts from the image's noise; image-to-image from the init image's latents
    /// (sampled with the image's generator where the encoder returns parameters), scaled, then
    /// noised to the first timestep. The generator's draws come in diffusers' order: posterior, then noise.
    /// </summary>
    private void StartLatents(PendingImage image, EncodedImage? encoded, int firstTimestep, Span<float> sample)
    {
        if (encoded is null)
        {
            image.Noise.Fill(sample);
            return;
        }
        var latents = new float[sample.Length];
        if (encoded.Encoder.ReturnsParameters)
        {
            var z = new float[sample.Length];
            image.Noise.Fill(z);
            VaeEncoder.Sample(encoded.Values, z, latents);
        }
        else
        {
            encoded.Values.CopyTo(latents, 0);
        }
        for (int i = 0; i < latents.Length; i++) latents[i] = (float)(latents[i] * encoded.Encoder.ScalingFactor);
        var noise = new float[sample.Length];
        image.Noise.Fill(noise);
        Scheduler.AddNoise(latents, noise, firstTimestep, sample);
    }

    /// <summary>
    /// Each step writes every image's denoised estimate and, before the last, renoises its sample
    /// with the image's own generator, so an image's pixels do not depend on its batch.
    /// </summary>
    private void Denoise(PendingImage[] chunk, IReadOnlyList<GenerationRequest> requests, float[] samples, LatentShape shape, PromptConditioning conditioning, int[] timesteps, PipelineRun run)
    {
        int size = shape.ImageLength;
        var noise = new float[size];
        var (guided, bound) = _boundSteps.For(shape, conditioning);
        run.UnetInputs(bound);
        for (int s = 0; s < timesteps.Length; s++)
        {
            run.CancellationToken.ThrowIfCancellationRequested();
            int t = timesteps[s];
            int? next = s + 1 < timesteps.Length ? timesteps[s + 1] : null;
            float[] output = run.Ort("lcm.unet_step", ref run.UnetStepMs[s], () => guided.Predict(samples, t, run.Options), step: s + 1);
            for (int i = 0; i < chunk.Length; i++)
            {
                if (next is not null) chunk[i].Noise.Fill(noise);
                Scheduler.Step(output.AsSpan(i * size, size), t, next, samples.AsSpan(i * size, size), noise, chunk[i].Denoised);
            }
            ReportPreviews(chunk, requests, shape with { Batch = 1 }, s + 1, timesteps.Length);
            run.ReportStep(s + 1);
        }
    }

    /// <summary>Each request that wants previews gets its first image in this batch, copied: the next step overwrites it.</summary>
    private void ReportPreviews(PendingImage[] chunk, IReadOnlyList<GenerationRequest> requests, LatentShape image, int step, int steps)
    {
        foreach (var first in chunk.GroupBy(i => i.Request).Select(g => g.First()))
        {
            if (requests[first.Request].Preview is not { } sink) continue;
            float[] denoised = (float[])first.Denoised.Clone();
            sink.Report(new LatentPreview(step, steps, first.Index, denoised, () => RenderPreview(denoised, image)));
        }
    }

    /// <summary>A preview with the preview decoder, or from the latents alone where there is none.</summary>
    private GeneratedImage RenderPreview(float[] denoised, LatentShape image)
    {
        if (_previewDecoder.Value is not { } decoder)
            return new GeneratedImage(LatentRgb.ToRgb(denoised, image, Model.Family), image.Width, image.Height, 0);
        using var runOptions = new RunOptions();
        return new GeneratedImage(decoder.Decode(denoised, image, runOptions), image.PixelWidth, image.PixelHeight, 0);
    }

    private void Decode(PendingImage[] chunk, IReadOnlyList<GenerationRequest> requests, LatentShape image, PipelineRun run)
    {
        var tiling = VaeTiling(image.PixelWidth, image.PixelHeight);
        foreach (var pending in chunk)
        {
            run.CancellationToken.ThrowIfCancellationRequested();
            // The tiny decoder's activations are a fraction of the full one's: it never needs tiles.
            var (decoder, tiles) = requests[pending.Request].Decoder == VaeDecoderKind.Tiny ? (_tinyDecoder.Value!, null) : (_vaeDecoder, tiling);
            pending.Rgb = run.Ort("lcm.vae_decode", ref run.VaeDecoderMs, () => decoder.Decode(pending.Denoised, image, run.Options, tiles));
        }
    }

    /// <summary>
    /// The words of an allocation that failed, or null: .NET's, or ONNX Runtime's on the CPU (its arena's
    /// "Failed to allocate memory", bad_alloc) or on CUDA (out of memory, cuDNN's or cuBLAS's ALLOC_FAILED).
    /// </summary>
    private static string? OutOfMemorySign(Exception e)
    {
        if (e is OutOfMemoryException) return e.Message;
        if (e is not OnnxRuntimeException) return null;
        int at = new[] { "Failed to allocate", "bad_alloc", "bad allocation", "out of memory", "ALLOC_FAILED" }
            .Select(sign => e.Message.IndexOf(sign, StringComparison.OrdinalIgnoreCase)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        return at < 0 ? null : e.Message[at..].Split('\n')[0];
    }

    /// <summary>Each tokenizer may split a text differently (SDXL's second cuts out every "!"): the longest decides.</summary>
    private string[] Warnings(GenerationRequest request, double guidance, TokenizedPrompt[] prompts, TokenizedPrompt[]? negatives)
    {
        var prompt = prompts.MaxBy(p => p.TokenCount)!;
        var negative = negatives?.MaxBy(p => p.TokenCount);
        var warnings = new List<string>();
        if (prompt.Truncated)
            warnings.Add($"prompt is {prompt.TokenCount} tokens long; only the first {ClipTokenizer.MaxLength - 2} were used");
        bool unconditional = _guidance.NeedsNegativePrompts([guidance]);
        if (!string.IsNullOrEmpty(request.NegativePrompt) && !unconditional)
            warnings.Add(_guidance.UnusedNegativePromptWarning(guidance));
        if (unconditional && negative is { Truncated: true })
            warnings.Add($"negativePrompt is {negative.TokenCount} tokens long; only the first {ClipTokenizer.MaxLength - 2} were used");
        return [.. warnings];
    }

    private static string Describe(IEnumerable<LoraReference> loras) =>
        loras.Any() ? string.Join(", ", loras.Select(l => $"'{l.Name}' at {l.Scale}")) : "no LoRAs";

    public void Dispose()
    {
        _prompts.Dispose();
        _boundSteps.Dispose();
        _unet.Dispose();
        _vaeDecoder.Dispose();
        if (_vaeEncoder.IsValueCreated) _vaeEncoder.Value?.Dispose();
        if (_tinyEncoder.IsValueCreated) _tinyEncoder.Value?.Dispose();
        if (_tinyDecoder.IsValueCreated) _tinyDecoder.Value?.Dispose();
        if (_previewDecoder != _tinyDecoder && _previewDecoder.IsValueCreated) _previewDecoder.Value?.Dispose();
        _deviceLock.Dispose();
    }

    private sealed class PendingImage(int request, int index, long seed, int latentSize)
    {
        public int Request { get; } = request;
        /// <summary>The image's place among its request's images.</summary>
        public int Index { get; } = index;
        public long Seed { get; } = seed;
        public GaussianNoise Noise { get; } = new((ulong)seed);
        public float[] Denoised { get; } = new float[latentSize];
        public byte[]? Rgb { get; set; }
    }
}
