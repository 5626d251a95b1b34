using System.CommandLine;
using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary>The options of a video job's source, which <c>video</c> (local) and <c>submit --video</c> (a job) both take.</summary>
internal sealed class VideoRequestOptions
{
    public Option<double?> Fps { get; } = CliOptions.Double("--fps", $"Frames per second the source is resampled to (the source's by default, at most {RequestLimits.MaxVideoFps}).", "FPS");
    public Option<double?> Start { get; } = CliOptions.Double("--start", "Seconds into the source where the frames start (0 by default).", "SEC");
    public Option<double?> Duration { get; } = CliOptions.Double("--duration", "Seconds of the source from --start (to its end by default).", "SEC");
    public Option<int?> MaxFrames { get; } = CliOptions.Int("--max-frames", $"The most frames (by default {RequestLimits.DefaultVideoMaxFrames}, or LCM_MAX_VIDEO_FRAMES where that is less); a longer source fails.");

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Fps, Start, Duration, MaxFrames }) command.Options.Add(option);
    }

    public JobVideo Read(ParseResult args, string? input, string? format) => new()
    {
        Input = input,
        Fps = args.GetValue(Fps),
        Start = args.GetValue(Start),
        Duration = args.GetValue(Duration),
        MaxFrames = args.GetValue(MaxFrames),
        Format = format,
    };
}
