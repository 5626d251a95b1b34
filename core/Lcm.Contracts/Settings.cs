using System.Globalization;

namespace Lcm.Contracts;

/// <summary>Reads typed settings (environment variables = app settings) with errors that name the setting.</summary>
public static class Settings
{
    public static int? ReadInt(Func<string, string?> read, string name, int min, int max)
    {
        string? text = read(name);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new ArgumentException($"{name} must be an integer in {min}..{max}, found '{text}'");
        return value;
    }

    public static bool? ReadBool(Func<string, string?> read, string name)
    {
        string? text = read(name);
        if (string.IsNullOrWhiteSpace(text)) return null;
        return bool.TryParse(text, out bool value) ? value
            : throw new ArgumentException($"{name} must be true or false, found '{text}'");
    }
}
