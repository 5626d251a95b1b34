using System.CommandLine;
using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary>The options of one generation request, which <c>generate</c> (local) and <c>submit</c> (a job) both take.</summary>
internal sealed class RequestOptions
{
    public Option<string> Prompt { get; } = CliOptions.Text("--prompt", "What to draw.", required: true);
    public Option<int?> Steps { get; } = CliOptions.Int("--steps", $"Denoising steps ({RequestLimits.DefaultSteps} by default).");
    public Option<double?> Guidance { get; } = CliOptions.Double("--guidance", "The guidance scale (the model's default; lcm info shows it).", "G");
    public Option<int?> Width { get; } = CliOptions.Int("--width", "Width in pixels, a multiple of 8 (the model's default, or the init image's).", "W");
    public Option<int?> Height { get; } = CliOptions.Int("--height", "Height in pixels, a multiple of 8 (the model's default, or the init image's).", "H");
    public Option<long?> Seed { get; } = CliOptions.Long("--seed", "The seed of the first image (random by default); the next images take the next seeds.", "S");
    public Option<int?> Count { get; } = CliOptions.Int("--count", "How many images (1 by default).");
    public Option<int?> Quality { get; } = CliOptions.Int("--quality", $"JPEG and WebP quality, 1..100 ({RequestLimits.DefaultQuality} by default).", "Q");
    public Option<string> InitImage { get; } = CliOptions.Text("--init-image", "A picture to start from (image-to-image).", "FILE");
    public Option<double?> Strength { get; } = CliOptions.Double("--strength", "How far to move away from the init image, (0, 1] (0.8 by default).", "S");
    public Option<string> NegativePrompt { get; } = CliOptions.Text("--negative-prompt", "What to steer away from.");
    public Option<string[]> Loras { get; } = CliOptions.Loras();
    public Option<string> Decoder { get; } = CliOptions.Text("--decoder", "full (the model's VAE, the default) or tiny (a tiny autoencoder: a fraction of the time, softer; for drafts).", "full|tiny");

    /// <summary>Before the command's own options, so its help lists the request first.</summary>
    public void AddTo(Command command)
    {
        Option[] options = [Prompt, Steps, Guidance, Width, Height, Seed, Count, Quality, InitImage, Strength, NegativePrompt, Loras, Decoder];
        for (int i = 0; i < options.Length; i++) command.Options.Insert(i, options[i]);
    }
}
