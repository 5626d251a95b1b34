namespace Lcm.Cli;

/// <summary>
/// This process's memory from /proc/self/smaps_rollup (Linux). Anonymous is memory no other
/// process can share (weights copied or pre-packed); shared clean pages are file pages that another
/// process maps too (weights mapped from one file by two workers).
/// </summary>
internal sealed record ProcessMemory(long AnonymousBytes, long PrivateDirtyBytes, long SharedCleanBytes, long RssBytes)
{
    public static ProcessMemory Read()
    {
        if (!File.Exists("/proc/self/smaps_rollup")) return new ProcessMemory(0, 0, 0, 0);
        var values = new Dictionary<string, long>();
        foreach (string line in File.ReadLines("/proc/self/smaps_rollup"))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3 && parts[2] == "kB" && long.TryParse(parts[1], out long kb)) values[parts[0].TrimEnd(':')] = kb * 1024;
        }
        return new ProcessMemory(values.GetValueOrDefault("Anonymous"), values.GetValueOrDefault("Private_Dirty"),
            values.GetValueOrDefault("Shared_Clean"), values.GetValueOrDefault("Rss"));
    }

    /// <summary>The largest resident size this process has had (VmHWM in /proc/self/status); 0 where there is none.</summary>
    /// <remarks>The kernel pads the number after the tab with spaces to eight digits: from 10 GB up there are none.</remarks>
    public static long PeakRssBytes() =>
        File.Exists("/proc/self/status") && File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) is { } line
            ? long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1]) * 1024
            : 0;
}
