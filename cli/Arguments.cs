using System.Globalization;

namespace Lcm.Cli;

/// <summary>
/// "--name value" options, "--flag" switches and positional words of one command. Every option must
/// be read by the command: <see cref="EnsureAllUsed"/> turns a leftover (a typo) into a usage error.
/// </summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public Arguments(IEnumerable<string> args, params string[] flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string arg = list[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg == "--")
            {
                Positionals.Add(arg);
                continue;
            }
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) (name, value) = (name[..eq], name[(eq + 1)..]);
            if (flags.Contains(name))
            {
                if (value is not null) throw new UsageException($"--{name} takes no value");
                value = "true";
            }
            else if (value is null)
            {
                if (i + 1 >= list.Count) throw new UsageException($"--{name} needs a value");
                value = list[++i];
            }
            if (!_options.TryGetValue(name, out var values)) _options[name] = values = [];
            values.Add(value);
        }
    }

    public List<string> Positionals { get; } = [];

    public string? Text(string name) => All(name) is { Count: > 0 } values ? values[^1] : null;

    public IReadOnlyList<string> All(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out var values) ? values : [];
    }

    public bool Flag(string name) => Text(name) is not null;

    public string Required(string name) => Text(name) ?? throw new UsageException($"--{name} is required");

    public int? Int(string name) => Parse(name, s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : (int?)null, "an integer");

    public long? Long(string name) => Parse(name, s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : (long?)null, "an integer");

    public double? Double(string name) => Parse(name, s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : (double?)null, "a number");

    public void EnsureAllUsed(int maxPositionals = 0)
    {
        var unknown = _options.Keys.Where(k => !_used.Contains(k)).ToArray();
        if (unknown.Length > 0) throw new UsageException($"unknown option --{unknown[0]}");
        if (Positionals.Count > maxPositionals) throw new UsageException($"unexpected argument '{Positionals[maxPositionals]}'");
    }

    private T? Parse<T>(string name, Func<string, T?> parse, string what) where T : struct
    {
        string? text = Text(name);
        if (text is null) return null;
        return parse(text) ?? throw new UsageException($"--{name} must be {what}, found '{text}'");
    }
}
