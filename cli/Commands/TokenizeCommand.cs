using Lcm.Engine.Loaders;
using Lcm.Engine.Text;

namespace Lcm.Cli;

/// <summary><c>lcm tokenize TEXT</c>: the 77 token ids the model's tokenizer gives, as one JSON array.</summary>
internal static class TokenizeCommand
{
    public static int Run(string[] argv)
    {
        var args = new Arguments(argv);
        string? model = args.Text("model");
        args.EnsureAllUsed(maxPositionals: 1);
        if (args.Positionals.Count == 0) throw new UsageException("the TEXT to tokenize is required");
        string modelPath = CliModel.Resolve(model);
        var tokenizer = ClipTokenizer.FromFolder(ModelFolder.Open(modelPath).TokenizerDirectory);
        var tokens = tokenizer.Encode(args.Positionals[0]);
        Console.WriteLine($"[{string.Join(",", tokens.Ids)}]");
        if (tokens.Truncated) Console.Error.WriteLine($"warning: {tokens.TokenCount} tokens; truncated to {ClipTokenizer.MaxLength - 2}");
        return 0;
    }
}
