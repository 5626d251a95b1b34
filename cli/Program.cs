using System.CommandLine;
using System.CommandLine.Invocation;
using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Pipelines;

namespace Lcm.Cli;

/// <summary>The <c>lcm</c> command: composes the commands, parses and runs one. Exit codes: 0 success, 1 failure, 2 bad arguments.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("LCM images on this machine (generate, info, ...) and through the job service (worker, submit, status, ...).")
        {
            GenerateCommand.Create(),
            VideoCommand.Create(),
            TokenizeCommand.Create(),
            InfoCommand.Create(),
            MakeModelCommand.Create(),
            MakeLoraCommand.Create(),
            PrepareCommand.Create(),
            WorkerCommand.Create(),
            ServeCommand.Create(),
            SubmitCommand.Create(),
            StatusCommand.Create(cancel: false),
            StatusCommand.Create(cancel: true),
            DemoCommand.Create(),
            BenchCommand.Create(),
            BenchCommand.CreateProbe(),
        };
        var parsed = root.Parse(args);
        string name = parsed.CommandResult.Command == root ? "lcm" : $"lcm {parsed.CommandResult.Command.Name}";
        if (parsed.Action is ParseErrorAction errors) return UsageError(parsed, errors, name);

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            cancel.Cancel();
        });
        try
        {
            // Exceptions reach Failure below; the signals above cancel the token, and the worker takes its own grace to stop.
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancel.Token);
        }
        catch (Exception e)
        {
            var (text, exitCode) = Failure(e, name);
            await Console.Error.WriteLineAsync($"{name}: {text}");
            return exitCode;
        }
        finally
        {
            CliModel.Logging.Dispose();
        }
    }

    /// <summary>The parser's errors, named like every failure, then its typo suggestions ("did you mean"), all on stderr; exit code 2.</summary>
    private static int UsageError(ParseResult parsed, ParseErrorAction errors, string name)
    {
        foreach (var error in parsed.Errors) Console.Error.WriteLine($"{name}: {error.Message}");
        // The action writes the suggestions to its Output and the errors again to its Error, written above already.
        errors.ShowHelp = false;
        parsed.Invoke(new InvocationConfiguration { Output = Console.Error, Error = TextWriter.Null });
        Console.Error.WriteLine($"Run '{name} --help' for usage.");
        return 2;
    }

    /// <summary>What the user is told and the exit code: 2 for what the arguments can fix, 1 for the rest.</summary>
    private static (string Text, int ExitCode) Failure(Exception e, string name) => e switch
    {
        UsageException => ($"{e.Message}\nRun '{name} --help' for usage.", 2),
        InvalidRequestException refused => ($"{refused.Code}: {refused.Message}", 2),
        ModelOutputException output => ($"{output.Code}: {output.Message}", 1),
        JobRejectedException rejected => ($"{rejected.Code}: {rejected.Message}", 2),
        // A request the service refuses is a bad argument; a taken id or a missing job is a failure.
        LcmJobException failed => ($"{failed.ErrorCode}: {failed.Message}", failed.Status == 400 ? 2 : 1),
        // An unknown name is a bad argument; a LoRA file that is malformed or does not fit is a failure.
        LoraException lora => ($"{lora.Code}: {lora.Message}", lora.Code == LoraException.Unknown ? 2 : 1),
        OperationCanceledException => ("canceled", 1),
        ModelFormatException => ($"bad model folder: {e.Message}", 1),
        _ => ($"error: {e.Message}", 1),
    };
}
