using Lcm.Engine.Loaders;
using Lcm.Engine.Loaders.Lora;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;
using Microsoft.Extensions.Logging;

namespace Lcm.Cli;

/// <summary>What the local commands share: which model folder, and an engine on it that logs to stderr.</summary>
internal static class CliModel
{
    /// <summary>Called after the arguments are checked, so a typo does not first write the built-in test model.</summary>
    public static string Resolve(string? model) =>
        ModelLocation.Resolve(model, notice => Console.Error.WriteLine(notice));

    public static LcmEngine LoadEngine(string modelPath, IReadOnlyList<LoraFile>? loras = null) =>
        LcmEngine.Load(modelPath, EngineSettings.ReadEngine(), CreateLogger("lcm"), loras);

    /// <summary>Logs go to stderr, one line each, so stdout carries only results. Disposed by Program to flush.</summary>
    public static readonly ILoggerFactory Logging = LoggerFactory.Create(builder => builder
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        })
        .SetMinimumLevel(LogLevel.Information)
        // lcm serve's request lines would carry ?access_token=, a credential.
        .AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning));

    public static ILogger CreateLogger(string category) => Logging.CreateLogger(category);
}
