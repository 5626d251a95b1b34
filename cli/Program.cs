using Lcm.Cli.Commands;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;

namespace Lcm.Cli;

/// <summary>The <c>lcm</c> command: parses the command word and dispatches. Exit codes: 0 success, 1 failure, 2 bad arguments.</summary>
public static class Program
{
    public const string Usage = """
        usage: lcm <command> [options]

          generate   --prompt TEXT --output FILE [--model DIR] [--steps N] [--guidance G] [--width W]
                     [--height H] [--seed S] [--count N] [--format png|jpeg|webp] [--quality Q]
                     [--init-image FILE [--strength S]] [--negative-prompt TEXT] [--lora NAME[:SCALE]]...
          tokenize   [--model DIR] TEXT
          info       [--model DIR] [--lora NAME[:SCALE]]...
          make-model --output DIR [--fp16] [--unet-mb N] [--seed S] [--sd15-style]
          make-lora  --output FILE [--format kohya|peft] [--rank R] [--alpha A] [--seed S] [--dtype F32|F16|BF16] [--unet-only]
          prepare    [--model DIR]
          worker     [--model DIR] [--connection CS]
          submit     --prompt TEXT [--id ID] [--steps N] [--guidance G] [--width W] [--height H] [--seed S]
                     [--count N] [--format F] [--quality Q] [--reply-to QUEUE] [--init-image FILE [--strength S]]
                     [--negative-prompt TEXT] [--lora NAME[:SCALE]]... [--wait [--output DIR] [--timeout SEC]]
                     [--connection CS]
          status     ID [--connection CS]
          cancel     ID [--connection CS]
          demo       [--prompt TEXT] [--seed S] [--output DIR] [--model DIR]
          bench      [--only cold,warm,burst] [--unet-mb N] [--runs N] [--jobs N] [--batch N] [--model DIR] [--json]

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
        string[] rest = args[1..];
        try
        {
            return args[0] switch
            {
                "generate" => GenerateCommand.Run(rest, cancel.Token),
                "tokenize" => TokenizeCommand.Run(rest),
                "info" => InfoCommand.Run(rest),
                "make-model" => MakeModelCommand.Run(rest),
                "make-lora" => MakeLoraCommand.Run(rest),
                "prepare" => PrepareCommand.Run(rest),
                "worker" => await WorkerCommand.RunAsync(rest, cancel.Token),
                "submit" => await SubmitCommand.RunAsync(rest, cancel.Token),
                "status" => await StatusCommand.RunAsync(rest, cancel: false, cancel.Token),
                "cancel" => await StatusCommand.RunAsync(rest, cancel: true, cancel.Token),
                "demo" => await DemoCommand.RunAsync(rest, cancel.Token),
                "bench" => await BenchCommand.RunAsync(rest),
                "bench-probe" => BenchCommand.Probe(rest),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync($"lcm {args[0]}: {e.Message}\nRun 'lcm --help' for usage.");
            return 2;
        }
        catch (InvalidRequestException e)
        {
            await Console.Error.WriteLineAsync($"lcm {args[0]}: {e.Code}: {e.Message}");
            return 2;
        }
        catch (Lcm.Contracts.JobRejectedException e)
        {
            await Console.Error.WriteLineAsync($"lcm {args[0]}: {e.Code}: {e.Message}");
            return 2;
        }
        catch (Lcm.Client.LcmJobException e)
        {
            await Console.Error.WriteLineAsync($"lcm {args[0]}: {e.ErrorCode}: {e.Message}");
            // A request the service refuses is a bad argument; a taken id or a missing job is a failure.
            return e.Status == 400 ? 2 : 1;
        }
        catch (Lcm.Engine.Loaders.Lora.LoraException e)
        {
            await Console.Error.WriteLineAsync($"lcm {args[0]}: {e.Code}: {e.Message}");
            // An unknown name is a bad argument; a LoRA file that is malformed or does not fit is a failure.
            return e.Code == Lcm.Engine.Loaders.Lora.LoraException.Unknown ? 2 : 1;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"lcm {args[0]}: canceled");
            return 1;
        }
        catch (Exception e)
        {
            string kind = e is ModelFormatException ? "bad model folder" : "error";
            await Console.Error.WriteLineAsync($"lcm {args[0]}: {kind}: {e.Message}");
            return 1;
        }
        finally
        {
            CliModel.Logging.Dispose();
        }
    }
}
