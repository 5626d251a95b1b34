using Lcm.Core.Generation;
using Lcm.Core.Model;
using Microsoft.Extensions.Logging;

namespace Lcm.Cli.Commands;

/// <summary>What the local commands share: which model folder, and an engine on it that logs to stderr.</summary>
internal static class CliModel
{
    public static string Resolve(Arguments args) =>
        ModelLocation.Resolve(args.Text("model"), notice => Console.Error.WriteLine(notice));

    public static LcmEngine LoadEngine(string modelPath) =>
        LcmEngine.Load(modelPath, EngineOptions.FromEnvironment(), CreateLogger("lcm"));

    public static ILogger CreateLogger(string category)
    {
        var factory = LoggerFactory.Create(builder => builder
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddFilter(level => level >= LogLevel.Information)
            .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        return factory.CreateLogger(category);
    }
}
