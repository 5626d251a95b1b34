namespace Lcm.Engine.Imaging;

public enum OutputFormat
{
    Png,
    Jpeg,
    Webp,
}

public static class OutputFormats
{
    public static string Extension(this OutputFormat format) => format switch
    {
        OutputFormat.Jpeg => "jpg",
        OutputFormat.Webp => "webp",
        _ => "png",
    };

    public static string ContentType(this OutputFormat format) => format switch
    {
        OutputFormat.Jpeg => "image/jpeg",
        OutputFormat.Webp => "image/webp",
        _ => "image/png",
    };

    /// <summary>Accepts png, jpeg, jpg and webp (lower case, as the contract spells them); null for anything else.</summary>
    public static OutputFormat? Parse(string? text) => text switch
    {
        "png" => OutputFormat.Png,
        "jpeg" or "jpg" => OutputFormat.Jpeg,
        "webp" => OutputFormat.Webp,
        _ => null,
    };
}
