using System.Diagnostics;
using Lcm.Contracts;
using Lcm.Engine;

namespace Lcm.Jobs.Video;

/// <summary>
/// Runs ffmpeg and ffprobe without a shell, with the caller's fixed argument list, a time limit and a
/// bounded capture of what they print: a caller's bytes reach them only as files, never as arguments.
/// </summary>
internal sealed class Ffmpeg(string ffmpeg, string ffprobe, TimeSpan timeout)
{
    /// <summary>What a run printed beyond this is dropped: ffprobe's JSON of one file and ffmpeg's errors are far smaller.</summary>
    private const int MaxOutputChars = 256 * 1024;

    /// <summary>ffmpeg from <see cref="VideoOptions.Ffmpeg"/> or PATH, ffprobe beside it; <c>video_tool_missing</c> where either is absent.</summary>
    public static Ffmpeg Locate(VideoOptions options)
    {
        string? found = options.Ffmpeg ?? FindOnPath("ffmpeg");
        if (found is null || !File.Exists(found))
            throw new InvalidRequestException(JobErrorCodes.VideoToolMissing,
                $"this worker has no ffmpeg ({(options.Ffmpeg is null ? "none on PATH" : $"LCM_FFMPEG '{options.Ffmpeg}' does not exist")}); install ffmpeg or set LCM_FFMPEG to its path");
        string probe = Path.Combine(Path.GetDirectoryName(found)!, "ffprobe");
        if (!File.Exists(probe))
            throw new InvalidRequestException(JobErrorCodes.VideoToolMissing, $"this worker has ffmpeg at '{found}' but no ffprobe beside it; install the whole ffmpeg package");
        return new Ffmpeg(found, probe, options.ToolTimeout);
    }

    /// <summary>ffprobe's standard output; throws <see cref="ToolFailedException"/> where it fails.</summary>
    public async Task<string> ProbeAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        (await RunAsync(ffprobe, arguments, cancellationToken)).Stdout;

    public async Task RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        await RunAsync(ffmpeg, ["-nostdin", "-hide_banner", "-loglevel", "error", .. arguments], cancellationToken);

    private async Task<(string Stdout, string Stderr)> RunAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidRequestException(JobErrorCodes.VideoToolMissing, $"'{tool}' could not be started");
        process.StandardInput.Close();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var stdout = ReadBoundedAsync(process.StandardOutput);
        var stderr = ReadBoundedAsync(process.StandardError);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            throw new ToolFailedException($"{Path.GetFileName(tool)} ran over its limit of {timeout.TotalSeconds:F0} s (LCM_FFMPEG_TIMEOUT_SECONDS) and was stopped");
        }
        string output = await stdout, errors = await stderr;
        return process.ExitCode == 0 ? (output, errors)
            : throw new ToolFailedException($"{Path.GetFileName(tool)} failed (exit {process.ExitCode}): {errors.Trim()}");
    }

    /// <summary>Reads a stream to its end (so the tool never blocks on a full pipe), keeping only its first <see cref="MaxOutputChars"/>.</summary>
    private static async Task<string> ReadBoundedAsync(StreamReader reader)
    {
        var kept = new System.Text.StringBuilder();
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
            kept.Append(buffer, 0, Math.Min(read, Math.Max(0, MaxOutputChars - kept.Length)));
        return kept.ToString();
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);
}

/// <summary>ffmpeg or ffprobe exited with an error or ran over its time limit; the caller decides what that means for the job.</summary>
internal sealed class ToolFailedException(string message) : Exception(message);
