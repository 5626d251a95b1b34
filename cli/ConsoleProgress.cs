using Spectre.Console;

namespace Lcm.Cli;

/// <summary>
/// Progress on stderr (stdout carries results and JSON): a live Spectre.Console bar when stderr is a
/// terminal, otherwise each report as a plain line, so logs, CI and tests read text.
/// </summary>
internal sealed class ConsoleProgress : IDisposable
{
    private readonly IAnsiConsole? _console;
    private readonly ProgressTask? _bar;
    private readonly TaskCompletionSource _stop = new();
    private readonly Task _display = Task.CompletedTask;

    public ConsoleProgress(string title)
    {
        if (Console.IsErrorRedirected) return;
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error), Interactive = InteractionSupport.Yes });
        var started = new TaskCompletionSource<ProgressTask>();
        // Spectre renders inside a callback; it runs on its own thread until Dispose, so reports can come from anywhere.
        _display = Task.Run(() => _console.Progress().AutoClear(false).Start(context =>
        {
            started.SetResult(context.AddTask(Markup.Escape(title), maxValue: 1));
            _stop.Task.Wait();
        }));
        _bar = started.Task.Result;
    }

    /// <summary><paramref name="done"/> of <paramref name="total"/>, described by <paramref name="text"/> (the line, when plain).</summary>
    public void Report(double done, double total, string text)
    {
        if (_bar is null)
        {
            Console.Error.WriteLine(text);
            return;
        }
        _bar.MaxValue = Math.Max(total, 1);
        _bar.Value = done;
        _bar.Description = Markup.Escape(text);
    }

    /// <summary>A denoising step of the images from <paramref name="image"/> on (of <paramref name="images"/>), which run together.</summary>
    public void ReportStep(int step, int steps, int image, int images, string prefix = "", string suffix = "") =>
        Report(step, steps, $"{prefix}step {step}/{steps}{(images > 1 ? $", images from {image + 1} of {images}" : "")}{suffix}");

    /// <summary>Frames of a video done: <paramref name="done"/> of <paramref name="frames"/>.</summary>
    public void ReportFrames(int done, int frames, string prefix = "", string suffix = "") =>
        Report(done, frames, $"{prefix}frame {done}/{frames}{suffix}");

    /// <summary>A message that stays: printed above the bar, or as a plain line.</summary>
    public void Line(string text)
    {
        if (_console is null) Console.Error.WriteLine(text);
        else _console.WriteLine(text);
    }

    public void Dispose()
    {
        _stop.TrySetResult();
        _display.Wait();
    }
}
