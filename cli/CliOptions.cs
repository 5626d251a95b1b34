using System.CommandLine;
using System.Globalization;

namespace Lcm.Cli;

/// <summary>
/// The kinds of option the commands take, built one way: numbers parsed invariantly with a message that
/// names the option, and the options several commands share (--model, --connection, --lora) described once.
/// A value option given twice takes the last value, as scripts that append an override expect.
/// </summary>
internal static class CliOptions
{
    public static Option<string> Text(string name, string description, string helpName = "TEXT", bool required = false) => new(name)
    {
        Description = description,
        HelpName = helpName,
        Required = required,
        Arity = ArgumentArity.OneOrMore,
        CustomParser = result => result.Tokens[^1].Value,
    };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    public static Option<int?> Int(string name, string description, string helpName = "N") => Number<int>(name, description, helpName, "an integer");

    public static Option<long?> Long(string name, string description, string helpName = "N") => Number<long>(name, description, helpName, "an integer");

    public static Option<double?> Double(string name, string description, string helpName = "X") => Number<double>(name, description, helpName, "a number");

    public static Option<string> Model() =>
        Text("--model", "The model folder; else LCM_MODEL_PATH, else the built-in test model.", "DIR");

    public static Option<string> Connection() =>
        Text("--connection", "The storage connection string; else the AzureWebJobsStorage settings, else Azurite on its default ports.", "CS");

    /// <summary>Repeated, one value each time: <c>--lora A --lora B:0.5</c>.</summary>
    public static Option<string[]> Loras() => new("--lora")
    {
        Description = "A LoRA: a name in LCM_LORA_PATH or a path to a .safetensors file, with an optional scale (1 by default). Repeat for several.",
        HelpName = "NAME[:SCALE]",
    };

    private static Option<T?> Number<T>(string name, string description, string helpName, string what) where T : struct, IParsable<T> => new(name)
    {
        Description = description,
        HelpName = helpName,
        Arity = ArgumentArity.OneOrMore,
        CustomParser = result =>
        {
            string text = result.Tokens[^1].Value;
            if (T.TryParse(text, CultureInfo.InvariantCulture, out T value)) return value;
            result.AddError($"{name} must be {what}, found '{text}'");
            return null;
        },
    };
}
