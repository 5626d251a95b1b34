using System.CommandLine;
using System.Diagnostics;
using Lcm.Engine.Loaders;
using Lcm.Engine.Pipelines;
using Lcm.Jobs;

namespace Lcm.Cli;

/// <summary>
/// <c>lcm prepare</c>: writes the optimised graphs of a model into the prepared-model cache (as the
/// first start would), so later cold starts skip graph optimisation and map the weights.
/// </summary>
internal static class PrepareCommand
{
    private static readonly Option<string> Model = CliOptions.Model();

    public static Command Create()
    {
        var command = new Command("prepare", "Writes the model's optimised graphs into the prepared-model cache, as the first start does.") { Model };
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult args)
    {
        string? model = args.GetValue(Model);
        var options = EngineSettings.ReadEngine();
        if (options.PreparedCacheDirectory is null) throw new UsageException("LCM_PREPARED_CACHE=false turns the prepared-model cache off; unset it to prepare");
        string modelPath = CliModel.Resolve(model);
        var started = Stopwatch.StartNew();
        using var engine = LcmEngine.Load(modelPath, options, CliModel.CreateLogger("lcm"));
        Console.WriteLine($"prepared {engine.Model.Root} for {engine.ExecutionProvider} in {started.Elapsed.TotalMilliseconds:F0} ms; cache: {options.PreparedCacheDirectory}");
        return 0;
    }
}
