using Lcm.Contracts;
using Lcm.Engine;

namespace Lcm.Jobs.Video;

/// <summary>
/// Walks a GIF's blocks without decoding a pixel: its frames' delays (hundredths of a second), so a
/// job's limits are checked before ImageSharp decodes every frame into memory at once.
/// </summary>
internal static class GifFrames
{
    public static int[] Delays(ReadOnlySpan<byte> gif)
    {
        int at = 13;
        if (gif.Length < at) throw Corrupt();
        byte screen = gif[10];
        if ((screen & 0x80) != 0) at += 3 << ((screen & 7) + 1);
        var delays = new List<int>();
        int delay = 0;
        while (true)
        {
            if (at >= gif.Length) throw Corrupt();
            switch (gif[at++])
            {
                case 0x3B:
                    return [.. delays];
                case 0x21 when at + 5 < gif.Length && gif[at] == 0xF9 && gif[at + 1] == 4:
                    // Graphic control extension: the delay of the image that follows.
                    delay = gif[at + 3] | gif[at + 4] << 8;
                    at = SkipSubBlocks(gif, at + 1);
                    break;
                case 0x21:
                    at = SkipSubBlocks(gif, at + 1);
                    break;
                case 0x2C:
                    if (at + 9 > gif.Length) throw Corrupt();
                    byte image = gif[at + 8];
                    at += 9 + ((image & 0x80) != 0 ? 3 << ((image & 7) + 1) : 0) + 1;
                    at = SkipSubBlocks(gif, at);
                    delays.Add(delay);
                    delay = 0;
                    break;
                default:
                    throw Corrupt();
            }
        }
    }

    /// <summary>Past a run of sub-blocks (a length byte, that many bytes) and its zero terminator.</summary>
    private static int SkipSubBlocks(ReadOnlySpan<byte> gif, int at)
    {
        while (at < gif.Length && gif[at] != 0) at += gif[at] + 1;
        return at < gif.Length ? at + 1 : throw Corrupt();
    }

    private static InvalidRequestException Corrupt() => new(JobErrorCodes.InvalidVideo, "the GIF could not be decoded: its blocks are truncated or malformed");
}
