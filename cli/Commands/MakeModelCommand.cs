using Lcm.SyntheticModels;

namespace Lcm.Cli;

/// <summary><c>lcm make-model</c>: writes a self-made test model folder (meaningless pictures, real ONNX graphs).</summary>
internal static class MakeModelCommand
{
    public static int Run(string[] argv)
    {
        var args = new Arguments(argv, "fp16", "sd15-style");
        string output = Path.GetFullPath(args.Required("output"));
        var options = new TestModelOptions
        {
            Float16 = args.Flag("fp16"),
            UnetMegabytes = args.Int("unet-mb") ?? 1,
            Seed = args.Int("seed") ?? 1,
            Sd15Style = args.Flag("sd15-style"),
        };
        args.EnsureAllUsed();
        if (options.UnetMegabytes is < 1 or > 16384) throw new UsageException($"--unet-mb must be in 1..16384, found {options.UnetMegabytes}");
        TestModelMaker.Write(output, options);
        Console.WriteLine(output);
        return 0;
    }
}
