using System.Text.Json;
using Lcm.Jobs;

namespace Lcm.Tests.Functions;

/// <summary>local.settings.sample.json lists every setting, and its values are ones the service accepts.</summary>
public class LocalSettingsSampleTests
{
    private static Dictionary<string, string> Values()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "LcmFunctions.sln"))) dir = dir.Parent;
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.FullName, "local.settings.sample.json"))).RootElement;
        return root.GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    [Fact]
    public void The_sample_settings_parse()
    {
        var values = Values();
        var settings = WorkerSettings.FromEnvironment(name => values.GetValueOrDefault(name) is { Length: > 0 } v ? v : null);
        Assert.Equal("lcm-jobs", settings.Names.JobsQueue);
        Assert.Equal(4, settings.Batching.MaxImages);
    }

    [Fact]
    public void Every_setting_the_code_reads_is_in_the_sample()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "LcmFunctions.sln"))) dir = dir.Parent;
        var read = Directory.EnumerateFiles(Path.Combine(dir.FullName, "core"), "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(f), "\"(LCM_[A-Z_]+)\"").Select(m => m.Groups[1].Value))
            .ToHashSet();
        read.Remove("LCM_HOST_JSON"); // the local worker's own: where host.json is
        Assert.NotEmpty(read);
        Assert.Empty(read.Except(Values().Keys));
    }
}
