using System.CommandLine;
using Lcm.Engine.Loaders;
using Lcm.Engine.Text;

namespace Lcm.Cli;

/// <summary><c>lcm tokenize TEXT</c>: the 77 token ids the model's tokenizer gives, as one JSON array.</summary>
internal static class TokenizeCommand
{
    private static readonly Argument<string> Text = new("TEXT") { Description = "The text to tokenize." };
    private static readonly Option<string> Model = CliOptions.Model();

    public static Command Create()
    {
        var command = new Command("tokenize", "Prints the 77 token ids of the model's tokenizer as one JSON array.") { Text, Model };
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult args)
    {
        string? model = args.GetValue(Model);
        string modelPath = CliModel.Resolve(model);
        var tokenizer = ClipTokenizer.FromFolder(ModelFolder.Open(modelPath).TokenizerDirectory);
        var tokens = tokenizer.Encode(args.GetValue(Text)!);
        Console.WriteLine($"[{string.Join(",", tokens.Ids)}]");
        if (tokens.Truncated) Console.Error.WriteLine($"warning: {tokens.TokenCount} tokens; truncated to {ClipTokenizer.MaxLength - 2}");
        return 0;
    }
}
