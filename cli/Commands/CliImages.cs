using Lcm.Engine.Imaging;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary>An --init-image file, read once and checked (length before reading, then format and header) by the commands that take one.</summary>
internal static class CliImages
{
    public static (byte[] Bytes, int Width, int Height, ImageInputLimits Limits) Read(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"--init-image: no file '{path}'");
        var limits = EngineSettings.ReadInputLimits(Environment.GetEnvironmentVariable);
        // Before reading: a file over the limit is refused without loading it (and one over 2 GiB cannot be read whole).
        ImageInput.CheckLength(new FileInfo(path).Length, limits);
        byte[] bytes = File.ReadAllBytes(path);
        var (width, height) = ImageInput.Identify(bytes, limits);
        return (bytes, width, height, limits);
    }
}
