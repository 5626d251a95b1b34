namespace Lcm.Tests.Cli;

/// <summary>What every command shares through System.CommandLine: generated help, usage errors (exit 2) with suggestions, and plain progress when redirected.</summary>
public sealed class CliConventionsTests(CliFolder folder) : IClassFixture<CliFolder>
{
    [Theory]
    [InlineData("generate", "--prompt", "--output", "--model", "--steps", "--guidance", "--width", "--height", "--seed", "--count", "--format", "--quality",
        "--init-image", "--strength", "--negative-prompt", "--lora", "--decoder")]
    [InlineData("tokenize", "--model", "<TEXT>")]
    [InlineData("info", "--model", "--lora")]
    [InlineData("make-model", "--output", "--architecture", "--fp16", "--fp32-vae", "--unet-mb", "--seed", "--sd15-style", "--family", "--kind", "--era", "--ssd1b-style")]
    [InlineData("make-lora", "--output", "--family", "--format", "--rank", "--alpha", "--seed", "--dtype", "--unet-only")]
    [InlineData("prepare", "--model")]
    [InlineData("worker", "--model", "--connection", "--health-port")]
    [InlineData("serve", "--model", "--port", "--host")]
    [InlineData("submit", "--prompt", "--id", "--steps", "--guidance", "--width", "--height", "--seed", "--count", "--format", "--quality", "--reply-to",
        "--init-image", "--strength", "--webhook", "--webhook-events", "--deadline", "--negative-prompt", "--lora", "--decoder", "--previews", "--wait", "--output", "--timeout", "--connection",
        "--video", "--video-format", "--fps", "--start", "--duration", "--max-frames")]
    [InlineData("video", "--input", "--output", "--prompt", "--strength", "--steps", "--guidance", "--width", "--height", "--seed", "--negative-prompt",
        "--format", "--lora", "--model", "--fps", "--start", "--duration", "--max-frames")]
    [InlineData("status", "<ID>", "--connection")]
    [InlineData("cancel", "<ID>", "--connection")]
    [InlineData("demo", "--prompt", "--seed", "--output", "--model")]
    [InlineData("bench", "--only", "--unet-mb", "--family", "--fp16", "--runs", "--size", "--sizes", "--plot", "--steps", "--jobs", "--batch", "--seconds", "--kill-worker", "--model", "--json")]
    public void Help_of_each_command_lists_its_options_on_stdout(string command, params string[] expected)
    {
        var run = folder.Lcm(command, "--help");

        LcmRun.AssertExit(0, run);
        Assert.Contains($"lcm {command}", run.Stdout);
        // The first word of each line of the Arguments and Options sections; "-?, -h, --help" is on every command.
        var listed = run.Stdout.Split('\n').Select(l => l.Trim().Split(' ')[0]).Where(w => w.StartsWith('-') || w.StartsWith('<')).ToArray();
        Assert.Equal(expected.Append("-?,").Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void Help_of_lcm_lists_the_commands_but_not_the_hidden_probe()
    {
        var run = folder.Lcm("--help");

        LcmRun.AssertExit(0, run);
        foreach (string command in new[] { "generate", "video", "tokenize", "info", "make-model", "make-lora", "prepare", "worker", "serve", "submit", "status", "cancel", "demo", "bench" })
            Assert.Contains($"\n  {command} ", run.Stdout);
        Assert.DoesNotContain("bench-probe", run.Stdout);
    }

    [Theory]
    [InlineData("--promt", "--prompt", "generate", "--promt", "a cat", "--output", "x.png")]
    [InlineData("--conection", "--connection", "status", "job-1", "--conection", "x")]
    [InlineData("generat", "generate", "generat", "--prompt", "a cat")]
    public void A_typo_exits_2_with_a_suggestion(string typo, string suggestion, params string[] args)
    {
        var run = folder.Lcm(args);

        LcmRun.AssertExit(2, run);
        Assert.Contains($"Unrecognized command or argument '{typo}'.", run.Stderr);
        Assert.Contains($"'{typo}' was not matched. Did you mean one of the following?\n{suggestion}\n", run.Stderr.ReplaceLineEndings("\n"));
        Assert.Contains("--help' for usage.", run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Theory]
    [InlineData("lcm generate: Option '--output' is required.", "generate", "--prompt", "a cat")]
    [InlineData("lcm make-lora: Option '--output' is required.", "make-lora")]
    [InlineData("lcm status: Required argument missing for command: 'status'.", "status")]
    [InlineData("lcm: Required command was not provided.")]
    public void A_missing_required_argument_exits_2_naming_it(string message, params string[] args)
    {
        var run = folder.Lcm(args);

        LcmRun.AssertExit(2, run);
        Assert.Contains(message, run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void A_bad_number_exits_2_naming_the_option_and_the_value()
    {
        var run = folder.Lcm("worker", "--health-port", "80x");

        LcmRun.AssertExit(2, run);
        Assert.Contains("lcm worker: --health-port must be an integer, found '80x'", run.Stderr);
    }

    [Fact]
    public void A_repeated_option_takes_its_last_value()
    {
        string output = Path.Combine(folder.NewDirectory("repeated"), "x.png");

        var run = folder.Lcm("generate", "--prompt", "a cat", "--output", output, "--width", "64", "--height", "64", "--steps", "3", "--steps", "1");

        LcmRun.AssertExit(0, run);
        Assert.Contains("step 1/1 (", run.Stderr);
        Assert.DoesNotContain("step 1/3", run.Stderr);
    }

    [Fact]
    public void Progress_on_a_redirected_stderr_is_plain_lines_without_terminal_codes()
    {
        string output = Path.Combine(folder.NewDirectory("plain"), "x.png");

        var run = folder.Lcm("generate", "--prompt", "a cat", "--output", output, "--width", "64", "--height", "64", "--steps", "2", "--count", "2", "--seed", "3");

        LcmRun.AssertExit(0, run);
        var steps = run.Stderr.Split('\n').Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, steps.Length);
        Assert.StartsWith("step 1/2, images from 1 of 2 (", steps[0]);
        Assert.StartsWith("step 2/2, images from 1 of 2 (", steps[1]);
        Assert.DoesNotContain('\u001b', run.Stderr);
    }
}
