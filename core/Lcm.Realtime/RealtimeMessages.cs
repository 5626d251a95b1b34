using System.Text.Json;
using Lcm.Engine.Pipelines;

namespace Lcm.Realtime;

/// <summary>The server's JSON messages: <c>frame</c> (before each result's JPEG), <c>error</c> and <c>ready</c>.</summary>
public static class RealtimeMessages
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string Ready(string sessionId, RealtimeOptions options, int width, int height) => JsonSerializer.Serialize(new
    {
        type = "ready",
        session = sessionId,
        width,
        height,
        maxFps = options.MaxFps,
        maxFrameBytes = options.FrameLimits.MaxBytes,
        maxFramePixels = options.FrameLimits.MaxDimension,
    }, Json);

    public static string Error(string code, string message) => JsonSerializer.Serialize(new { type = "error", code, message }, Json);

    public static string Frame(RealtimeFrame frame) => JsonSerializer.Serialize(new
    {
        type = "frame",
        frame.Input,
        frame.Seed,
        frame.Width,
        frame.Height,
        frame.Batch,
        frame.QueuedMs,
        frame.GenerateMs,
        frame.EncodeMs,
        // The engine's split of generateMs (shared by a batch); prompts reused from earlier frames skip the text encoders,
        // and steady params keep the UNet's bound inputs.
        stages = new
        {
            frame.Stages.TextEncoderMs,
            frame.Stages.VaeEncoderMs,
            UnetMs = frame.Stages.UnetStepMs.Sum(),
            frame.Stages.VaeDecoderMs,
            frame.Stages.PromptsEncoded,
            frame.Stages.PromptsReused,
            frame.Stages.UnetBindings,
            frame.Stages.UnetBindingsReused,
        },
        frame.DroppedInputs,
        frame.DroppedOutputs,
    }, Json);
}

/// <summary>One result: which input it answers and where its time went (milliseconds); its JPEG follows it.</summary>
public sealed record RealtimeFrame(long Input, long Seed, int Width, int Height, int Batch, double QueuedMs, double GenerateMs, double EncodeMs,
    GenerationTimings Stages, long DroppedInputs, long DroppedOutputs);
