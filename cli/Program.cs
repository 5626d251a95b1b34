using Lcm.Client;
using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Pipelines;

namespace Lcm.Cli;

/// <summary>The <c>lcm</c> command: parses the command word and dispatches. Exit codes: 0 success, 1 failure, 2 bad arguments.</summary>
internal static class Program
{
    public const string Usage = """
        usage: lcm <command> [options]

          generate   --prompt TEXT --output FILE [--model DIR] [--steps N] [--guidance G] [--width W]
                     [--height H] [--seed S] [--count N] [--format png|jpeg|webp] [--quality Q]
                     [--init-image FILE [--strength S]] [--negative-prompt TEXT] [--lora NAME[:SCALE]]...
          tokenize   [--model DIR] TEXT
          info       [--model DIR] [--lora NAME[:SCALE]]...
          make-model --output DIR [--fp16 [--fp32-vae]] [--unet-mb N] [--seed S] [--sd15-style]
                     [--family sd15|sdxl [--kind distilled|lcm-lora] [--era current|legacy] [--ssd1b-style]]
          make-lora  --output FILE [--family sd15|sdxl] [--format kohya|kohya-sgm|peft] [--rank R] [--alpha A] [--seed S]
                     [--dtype F32|F16|BF16] [--unet-only]
          prepare    [--model DIR]
          worker     [--model DIR] [--connection CS] [--health-port N]
          submit     --prompt TEXT [--id ID] [--steps N] [--guidance G] [--width W] [--height H] [--seed S]
                     [--count N] [--format F] [--quality Q] [--reply-to QUEUE] [--init-image FILE [--strength S]]
                     [--webhook URL [--webhook-events E,...]] [--deadline SEC]
                     [--negative-prompt TEXT] [--lora NAME[:SCALE]]... [--wait [--output DIR] [--timeout SEC]]
                     [--connection CS]
          status     ID [--connection CS]
          cancel     ID [--connection CS]
          demo       [--prompt TEXT] [--seed S] [--output DIR] [--model DIR]
          bench      [--only cold,warm,burst,soak] [--unet-mb N] [--family sd15|sdxl] [--fp16] [--runs N] [--jobs N] [--batch N] [--kill-worker]
                     [--model DIR] [--json]

        The model is --model, else LCM_MODEL_PATH, else a built-in test model. A --lora is a name in
        LCM_LORA_PATH (NAME.safetensors there) or, locally, a path to a .safetensors file. Storage is
        --connection, else AzureWebJobsStorage (or AzureWebJobsStorage__accountName), else Azurite on its
        default ports.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            (args.Length == 0 ? Console.Error : Console.Out).Write(Usage);
            return args.Length == 0 ? 2 : 0;
        }
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
            return await DispatchAsync(args[0], args[1..], cancel.Token);
        }
        catch (Exception e)
        {
            var (text, exitCode) = Failure(e);
            await Console.Error.WriteLineAsync($"lcm {args[0]}: {text}");
            return exitCode;
        }
        finally
        {
            CliModel.Logging.Dispose();
        }
    }

    private static async Task<int> DispatchAsync(string command, string[] rest, CancellationToken cancellationToken) => command switch
    {
        "generate" => GenerateCommand.Run(rest, cancellationToken),
        "tokenize" => TokenizeCommand.Run(rest),
        "info" => InfoCommand.Run(rest),
        "make-model" => MakeModelCommand.Run(rest),
        "make-lora" => MakeLoraCommand.Run(rest),
        "prepare" => PrepareCommand.Run(rest),
        "worker" => await WorkerCommand.RunAsync(rest, cancellationToken),
        "submit" => await SubmitCommand.RunAsync(rest, cancellationToken),
        "status" => await StatusCommand.RunAsync(rest, cancel: false, cancellationToken),
        "cancel" => await StatusCommand.RunAsync(rest, cancel: true, cancellationToken),
        "demo" => await DemoCommand.RunAsync(rest, cancellationToken),
        "bench" => await BenchCommand.RunAsync(rest),
        "bench-probe" => BenchCommand.Probe(rest),
        _ => throw new UsageException($"unknown command '{command}'"),
    };

    /// <summary>What the user is told and the exit code: 2 for what the arguments can fix, 1 for the rest.</summary>
    private static (string Text, int ExitCode) Failure(Exception e) => e switch
    {
        UsageException => ($"{e.Message}\nRun 'lcm --help' for usage.", 2),
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
