using Lcm.Engine.Memory;
using System.Text;
using System.Text.Json;
using Json.Schema;
using Lcm.Contracts;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;

namespace Lcm.Tests.Jobs;

/// <summary>The job contract: the parser's verdicts and codes, and the JSON Schemas that document it agree.</summary>
public class JobContractTests
{

    public static TheoryData<string, string?> Messages => new()
    {
        { """{"prompt":"a photo of a cat"}""", null },
        { """{"id":"job-42","prompt":"a photo of a cat","steps":4,"guidanceScale":8.5,"width":512,"height":512,"seed":42,"count":1,"format":"png","replyTo":"my-service-events"}""", null },
        { """{"prompt":"tabs\tand\nlines are fine","format":"webp","quality":70,"seed":4294967295}""", null },
        { """{"prompt":"a cat","width":null}""", null },
        { """{"prompt":"a cat","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tracestate":"congo=t61rcWkgMzE"}""", null },
        { """{"prompt":"a cat","traceparent":"not a trace context"}""", null },
        { """{"prompt":"a cat","traceparent":7}""", "invalid_type" },
        { """{"prompt":""}""", "invalid_prompt" },
        { """{"prompt":"   "}""", "invalid_prompt" },
        { """{"steps":4}""", "invalid_prompt" },
        { """{"prompt":"bell\u0007"}""", "invalid_prompt" },
        { """{"prompt":"a cat","stepz":4}""", "unknown_field" },
        { """{"prompt":"a cat","Steps":4}""", "unknown_field" },
        { """{"prompt":"a cat","steps":"four"}""", "invalid_type" },
        { """{"prompt":"a cat","steps":4.5}""", "invalid_type" },
        { """{"prompt":42}""", "invalid_type" },
        { """{"prompt":"a cat","width":100}""", "invalid_width" },
        { """{"prompt":"a cat","height":4096}""", "invalid_height" },
        { """{"prompt":"a cat","steps":0}""", "invalid_steps" },
        { """{"prompt":"a cat","steps":9}""", "invalid_steps" },
        { """{"prompt":"a cat","count":9}""", "invalid_count" },
        { """{"prompt":"a cat","seed":-1}""", "invalid_seed" },
        { """{"prompt":"a cat","seed":4294967296}""", "invalid_seed" },
        { """{"prompt":"a cat","guidanceScale":50}""", "invalid_guidance_scale" },
        { """{"prompt":"a cat","format":"gif"}""", "invalid_format" },
        { """{"prompt":"a cat","quality":0}""", "invalid_quality" },
        { """{"prompt":"a cat","replyTo":"Bad_Queue"}""", "invalid_reply_to" },
        // A trailing line feed is no part of a name ($ in a .NET pattern would let it through).
        { """{"id":"job-1\n","prompt":"a cat"}""", "invalid_id" },
        { """{"prompt":"a cat","replyTo":"my-queue\n"}""", "invalid_reply_to" },
        { """{"prompt":"a cat","loras":[{"name":"style\n"}]}""", "invalid_loras" },
        { """{"prompt":"a cat","width":99999999999}""", "invalid_width" },
        { """{"prompt":"a cat","initImage":"job-1/init","strength":0.5}""", null },
        { """{"prompt":"a cat","initImage":"https://account.blob.core.windows.net/lcm-inputs/job-1/init"}""", null },
        { """{"prompt":"a cat","strength":0.5}""", "invalid_strength" },
        { """{"prompt":"a cat","initImage":"job-1/init","strength":0}""", "invalid_strength" },
        { """{"prompt":"a cat","initImage":"job-1/init","strength":1.5}""", "invalid_strength" },
        { """{"prompt":"a cat","negativePrompt":"blurry","loras":[{"name":"lcm-lora-sdv1-5","scale":1.0},{"name":"style.v2"}]}""", null },
        { """{"prompt":"a cat","loras":[],"negativePrompt":null}""", null },
        { """{"prompt":"a cat","loras":[{"name":"style","scale":-4}]}""", null },
        { """{"prompt":"a cat","negativePrompt":"bell\u0007"}""", "invalid_negative_prompt" },
        { """{"prompt":"a cat","negativePrompt":7}""", "invalid_type" },
        { """{"prompt":"a cat","loras":"style"}""", "invalid_type" },
        { """{"prompt":"a cat","loras":["style"]}""", "invalid_type" },
        { """{"prompt":"a cat","loras":[{"name":"style","scale":"high"}]}""", "invalid_type" },
        { """{"prompt":"a cat","loras":[{"name":"style","weight":1}]}""", "unknown_field" },
        { """{"prompt":"a cat","loras":[{"scale":1}]}""", "invalid_loras" },
        { """{"prompt":"a cat","loras":[{"name":"../style"}]}""", "invalid_loras" },
        { """{"prompt":"a cat","loras":[{"name":"https://example.com/x.safetensors"}]}""", "invalid_loras" },
        { """{"prompt":"a cat","loras":[{"name":"style","scale":4.5}]}""", "invalid_loras" },
        { """{"prompt":"a cat","loras":[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"},{"name":"e"}]}""", "invalid_loras" },
        { """{"prompt":"a cat","video":{"input":"job-1/video"}}""", null },
        { """{"prompt":"a cat","strength":0.4,"video":{"input":"job-1/video","fps":12,"start":0.5,"duration":4,"maxFrames":48,"format":"webm"}}""", null },
        { """{"prompt":"a cat","video":{"input":"job-1/video","format":"frames"}}""", null },
        { """{"prompt":"a cat","video":{}}""", "invalid_video" },
        { """{"prompt":"a cat","video":"job-1/video"}""", "invalid_type" },
        { """{"prompt":"a cat","video":{"input":"job-1/video","speed":2}}""", "unknown_field" },
        { """{"prompt":"a cat","video":{"input":"job-1/video","fps":60}}""", "invalid_video" },
        { """{"prompt":"a cat","video":{"input":"job-1/video","fps":0}}""", "invalid_video" },
        { """{"prompt":"a cat","video":{"input":"job-1/video","start":-1}}""", "invalid_video" },
        { """{"prompt":"a cat","video":{"input":"job-1/video","duration":0}}""", "invalid_video" },
        { """{"prompt":"a cat","video":{"input":"job-1/video","maxFrames":0}}""", "video_too_many_frames" },
        { """{"prompt":"a cat","video":{"input":"job-1/video","format":"avi"}}""", "invalid_video" },
        { """{"prompt":"a cat","initImage":"job-1/init","video":{"input":"job-1/video"}}""", "invalid_video" },
    };

    [Fact]
    public void A_lora_named_twice_is_refused_by_the_parser()
    {
        // JSON Schema cannot say that names differ; the parser does.
        var message = JobMessage.FromJson("""{"prompt":"a cat","loras":[{"name":"a"},{"name":"a","scale":0.5}]}"""u8, "message-id");

        Assert.Equal("invalid_loras", message.Error?.Code);
        Assert.Contains("'a' is named twice", message.Error?.Message);
    }

    [Fact]
    public void Resolving_fills_in_lora_scales_and_the_model_kinds_guidance()
    {
        var message = JobMessage.FromJson("""{"prompt":"a cat","loras":[{"name":"style"}]}"""u8, "message-id");

        var plan = JobPlan.Resolve(JobPlan.Normalise(message.Request!, seed: 3, Model(ModelFamily.StableDiffusion, ModelKind.LcmLora)));

        Assert.Equal([new JobLora("style", 1.0)], plan.Request.Loras);
        Assert.Equal(GenerationLimits.Guidance(ModelFamily.StableDiffusion, ModelKind.LcmLora).Default, plan.Request.GuidanceScale);
        Assert.Equal([new Lcm.Engine.Loaders.Lora.LoraReference("style", 1.0)], plan.Generation.Loras);
    }

    [Theory]
    [InlineData(ModelFamily.StableDiffusion, ModelKind.Distilled, 8.5, 512)]
    [InlineData(ModelFamily.StableDiffusion, ModelKind.LcmLora, 1.0, 512)]
    [InlineData(ModelFamily.StableDiffusionXL, ModelKind.Distilled, 8.0, 1024)]
    [InlineData(ModelFamily.StableDiffusionXL, ModelKind.LcmLora, 1.0, 1024)]
    public void A_job_without_guidance_or_size_takes_the_models_defaults_by_family_and_kind(ModelFamily family, ModelKind kind, double guidance, int size)
    {
        var request = JobPlan.Resolve(JobPlan.Normalise(new JobRequest { Prompt = "a cat" }, seed: 1, Model(family, kind))).Request;

        Assert.Equal((guidance, size, size), (request.GuidanceScale, request.Width, request.Height));
        Assert.Null(request.NegativePrompt);
        Assert.Equal("", JobPlan.Normalise(new JobRequest { Prompt = "a cat", NegativePrompt = "" }, seed: 1, Model(family, kind)).NegativePrompt);
    }

    /// <summary>The capabilities an engine of this family and kind reports, with an SDXL UNet's sample_size of 128.</summary>
    private static EngineCapabilities Model(ModelFamily family, ModelKind kind) => new()
    {
        Kind = kind,
        Family = family,
        Guidance = GenerationLimits.Guidance(family, kind),
        DefaultWidth = GenerationLimits.DefaultSize(family, 128),
        DefaultHeight = GenerationLimits.DefaultSize(family, 128),
        ImageToImage = GenerationLimits.ImageToImage(family, kind),
        MaxImageSize = RequestLimits.MaxImageSize,
        SupportsImageToImage = true,
        OriginalSteps = 50,
        MaxSteps = RequestLimits.MaxSteps,
        LoraNames = [],
        // A folder without configs: SD 1.5's, under no budget to speak of.
        Memory = new MemoryBudget(RunMemoryEstimate.For(Path.GetTempPath(), unetElementBytes: 4), long.MaxValue, "none"),
    };

    [Theory]
    [InlineData(0.73, 0.75)]
    [InlineData(0.72, 0.7)]
    [InlineData(1.0, 1.0)]
    [InlineData(-0.125, -0.15)]
    public void Lora_scales_are_applied_in_steps_of_five_hundredths(double asked, double applied)
    {
        var request = new JobRequest { Prompt = "a cat", Loras = [new JobLora("style", asked)] };
        Assert.Equal(applied, JobPlan.Normalise(request, seed: 1, Model(ModelFamily.StableDiffusion, ModelKind.LcmLora)).Loras![0].Scale);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Parser_and_schema_agree_on_each_message(string json, string? expectedCode)
    {
        var message = JobMessage.FromJson(Encoding.UTF8.GetBytes(json), "message-id");
        Assert.Equal(expectedCode, message.Error?.Code);
        Assert.Equal(expectedCode switch { null => JobMessageKind.Job, JobErrorCodes.InvalidId => JobMessageKind.Unusable, _ => JobMessageKind.Rejected }, message.Kind);
        Assert.False(string.IsNullOrWhiteSpace(message.Error?.Message ?? "ok"));
        Assert.Equal(expectedCode is null, Validate("job-request", json));
    }

    [Theory]
    [InlineData("../secrets")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("ftp://example.com/x.png")]
    public void Init_image_references_must_be_plain_blob_names_or_http_urls(string reference)
    {
        string json = JsonSerializer.Serialize(new { prompt = "a cat", initImage = reference });
        Assert.Equal("invalid_init_image", JobMessage.FromJson(Encoding.UTF8.GetBytes(json), "m").Error?.Code);
    }

    public static TheoryData<string, string?, string?> Events => new()
    {
        // Event Grid schema, as a one-element array and as one object.
        { """[{"id":"1","eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/lcm-requests/blobs/job-9.json","data":{"url":"https://a.blob.core.windows.net/lcm-requests/job-9.json"},"dataVersion":"","eventTime":"2026-11-25T00:00:00Z"}]""", "job-9", null },
        { """{"id":"1","eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/lcm-requests/blobs/job-9.json","data":{"url":"https://a.blob.core.windows.net/lcm-requests/job-9.json"}}""", "job-9", null },
        // CloudEvents 1.0 schema.
        { """{"specversion":"1.0","type":"Microsoft.Storage.BlobCreated","source":"/subscriptions/x","id":"2","subject":"/blobServices/default/containers/lcm-requests/blobs/cat_1.json","data":{"url":"https://a.blob.core.windows.net/lcm-requests/cat_1.json"}}""", "cat_1", null },
        { """{"specversion":"1.0","type":"Microsoft.Storage.BlobDeleted","subject":"/blobServices/default/containers/lcm-requests/blobs/cat_1.json"}""", null, "unsupported_event" },
        { """{"eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/lcm-images/blobs/x.json"}""", null, "unsupported_event" },
        { """{"eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/lcm-requests/blobs/bad id!.json"}""", null, "invalid_id" },
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void Blob_created_events_for_request_blobs_become_jobs(string json, string? jobId, string? code)
    {
        foreach (var message in new[] { JobMessage.FromJson(Encoding.UTF8.GetBytes(json), "m"), JobMessage.FromBase64(json, "m"), JobMessage.FromBase64(Convert.ToBase64String(Encoding.UTF8.GetBytes(json)), "m") })
        {
            Assert.Equal(jobId, message.JobId);
            Assert.Equal(code, message.Error?.Code);
            Assert.Equal(jobId is null ? null : jobId + ".json", message.RequestBlob);
            Assert.Equal(jobId is null ? JobMessageKind.Unusable : JobMessageKind.RequestBlobEvent, message.Kind);
        }
    }

    [Fact]
    public void A_message_without_id_takes_the_queue_message_id()
    {
        Assert.Equal("message-id", JobMessage.FromJson("""{"prompt":"a cat"}"""u8, "message-id").JobId);
        Assert.Equal("job-7", JobMessage.FromJson("""{"id":"job-7","prompt":"a cat"}"""u8, "message-id").JobId);
    }

    [Theory]
    [InlineData("""{"id":"../x","prompt":"a cat"}""")]
    [InlineData("""{"id":42,"prompt":"a cat"}""")]
    [InlineData("""{"id":"","prompt":"a cat"}""")]
    public void An_unusable_id_leaves_no_job_id(string json)
    {
        var message = JobMessage.FromJson(Encoding.UTF8.GetBytes(json), "message-id");
        Assert.Null(message.JobId);
        Assert.Equal("invalid_id", message.Error?.Code);
        Assert.False(Validate("job-request", json));
    }

    [Theory]
    [InlineData("not base64 at all!", "invalid_encoding")]
    [InlineData("bm90IGpzb24=", "invalid_json")] // "not json"
    [InlineData("WzEsMl0=", "invalid_json")] // "[1,2]"
    public void Undecodable_messages_fail_under_the_message_id(string text, string code)
    {
        var message = JobMessage.FromBase64(text, "message-id");
        Assert.Equal("message-id", message.JobId);
        Assert.Equal(code, message.Error?.Code);
    }

    [Fact]
    public void A_message_over_the_size_limit_is_refused()
    {
        string json = JsonSerializer.Serialize(new { prompt = new string('a', JobRequest.MaxMessageBytes) });
        Assert.Equal("message_too_large", JobMessage.FromJson(Encoding.UTF8.GetBytes(json), "m").Error?.Code);
    }

    [Fact]
    public void Base64_round_trip_keeps_the_request()
    {
        var request = new JobRequest { Id = "job-1", Prompt = "a cat", Seed = 3, Format = "jpeg" };
        var message = JobMessage.FromBase64(JobMessage.ToBase64(request), "m");
        Assert.Equal(request, message.Request);
    }

    [Theory]
    [InlineData("""{"prompt":"a cat","video":{"input":"../video"}}""")]
    [InlineData("""{"prompt":"a cat","count":2,"video":{"input":"job-1/video"}}""")]
    public void The_parser_refuses_what_the_request_schema_cannot_say_of_a_video(string json)
    {
        Assert.Equal("invalid_video", JobMessage.FromJson(Encoding.UTF8.GetBytes(json), "m").Error?.Code);
    }

    [Fact]
    public void A_chunk_message_names_its_video_job_and_nothing_else_reads_as_one()
    {
        var chunk = JobMessage.FromBase64(JobMessage.ChunkToBase64("job-1", 3), "m");
        Assert.Equal((JobMessageKind.VideoChunk, "job-1", 3), (chunk.Kind, chunk.JobId, chunk.VideoChunk));
        Assert.Equal("invalid_json", JobMessage.FromJson("""{"id":"job-1","videoChunk":3,"prompt":"a cat"}"""u8, "m").Error?.Code);
        Assert.Equal("invalid_json", JobMessage.FromJson("""{"id":"job-1","videoChunk":-1}"""u8, "m").Error?.Code);
    }

    [Fact]
    public void A_video_job_defaults_to_its_sources_size_strength_one_half_and_mp4()
    {
        var request = JobPlan.Normalise(new JobRequest { Prompt = "a cat", Video = new JobVideo { Input = "job-1/video" } }, seed: 3, Model(ModelFamily.StableDiffusion, ModelKind.Distilled));

        Assert.Equal((null, null, 0.5), (request.Width, request.Height, request.Strength));
        Assert.Equal(new JobVideo { Input = "job-1/video", Start = 0, Format = "mp4" }, request.Video);
    }

    [Fact]
    public void Status_and_event_documents_match_their_schemas()
    {
        var request = JobPlan.Resolve(JobPlan.Normalise(new JobRequest { Id = "job-1", Prompt = "a cat" }, seed: 7, Model(ModelFamily.StableDiffusion, ModelKind.Distilled))).Request;
        var status = new JobStatus
        {
            Id = "job-1",
            Status = JobState.Succeeded,
            Attempts = 1,
            CreatedAt = DateTimeOffset.UtcNow,
            StartedAt = DateTimeOffset.UtcNow,
            CompletedAt = DateTimeOffset.UtcNow,
            Request = request,
            Images = [new JobImage("job-1/0.png", "http://127.0.0.1/x/lcm-images/job-1/0.png", 512, 512, 7, "image/png")],
            Metrics = new JobMetrics(12, 340, [80, 81]),
        };
        string statusJson = Encoding.UTF8.GetString(status.ToJson());
        Assert.True(Validate("job-status", statusJson), statusJson);
        Assert.Contains("\"error\":null", statusJson);
        Assert.True(Validate("job-request", JsonSerializer.Serialize(request, JobJson.Options)));
        Assert.Equal(statusJson, Encoding.UTF8.GetString(JobStatus.FromJson(status.ToJson()).ToJson()));

        var video = status with
        {
            Status = JobState.Running,
            Video = new VideoPlan(16, 8, 8, [1], 64, 64),
            Progress = new JobProgress(4, 4, 0, 16) { FramesDone = 8, Frames = 16 },
            Images = [new JobImage("job-1/video.mp4", "http://127.0.0.1/x/lcm-images/job-1/video.mp4", 64, 64, 7, "video/mp4")],
            Metrics = new JobMetrics(12, 340, []) { FramesPerSecond = 47 },
        };
        string videoJson = Encoding.UTF8.GetString(video.ToJson());
        Assert.True(Validate("job-status", videoJson), videoJson);
        Assert.Equal(videoJson, Encoding.UTF8.GetString(JobStatus.FromJson(video.ToJson()).ToJson()));

        var failed = new JobStatus { Id = "job-2", Status = JobState.Failed, CreatedAt = DateTimeOffset.UtcNow, Error = new JobError("invalid_width", "width ...") };
        Assert.True(Validate("job-status", Encoding.UTF8.GetString(failed.ToJson())));
        string eventJson = JsonSerializer.Serialize(new JobCompletedEvent("job-2", JobState.Failed, [], failed.Error), JobJson.Documents);
        Assert.True(Validate("job-event", eventJson), eventJson);
        Assert.False(Validate("job-status", """{"id":"x"}"""));
    }

    private static readonly string SchemaFolder = Path.Combine(RepositoryRoot(), "schemas");

    // Json.Schema registers each schema's $id globally: build each one once.
    private static readonly Dictionary<string, JsonSchema> Schemas = new[] { "job-request", "job-status", "job-event" }
        .ToDictionary(name => name, name => JsonSchema.FromText(File.ReadAllText(Path.Combine(SchemaFolder, $"{name}.schema.json"))));

    private static bool Validate(string schema, string json) => Schemas[schema].Evaluate(JsonDocument.Parse(json).RootElement).IsValid;

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LcmFunctions.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
