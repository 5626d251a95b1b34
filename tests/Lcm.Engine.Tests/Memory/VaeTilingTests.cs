using Lcm.Contracts;
using Lcm.Engine;
using Lcm.Engine.Memory;
using Lcm.Engine.Models;
using Lcm.Engine.Pipelines;
using Lcm.Tests.Sdxl;
using Xunit.Abstractions;

namespace Lcm.Tests.Generation;

/// <summary>
/// The VAE in tiles (diffusers' <c>enable_vae_tiling</c>): the blend against values worked out by hand,
/// tiled equal to untiled where the decoder is local, and tiles chosen by the memory budget so that a
/// size whose whole VAE pass would not fit runs instead of being refused.
/// </summary>
public sealed class VaeTilingTests(TestModels models, SdxlModels sdxl, ITestOutputHelper output) : IClassFixture<TestModels>, IClassFixture<SdxlModels>
{
    private const string Prompt = "a lighthouse on a cliff";

    [Fact]
    public void Decoded_tiles_blend_into_the_tile_above_and_the_tile_to_the_left_as_diffusers_does()
    {
        // 96 x 64 latents in 64-latent tiles (512 pixels) with a stride of 48: tiles at rows 0 and 48, columns 0 and 48.
        // Each tile decodes to the constant 10 x row + column of where it starts, so the output shows the blend weights.
        var tiling = new VaeTiling(512);
        int tileIndex = 0;
        float[] image = tiling.Decode(new float[4 * 96 * 64], 4, 96, 64, tile =>
        {
            int index = tileIndex++;
            return Constant(3, tile.Height * 8, tile.Width * 8, index / 2 * 10 + index % 2);
        });
        const int width = 512, height = 768;
        Assert.Equal(3 * width * height, image.Length);
        float At(int y, int x) => image[(2 * height + y) * width + x];

        // Blend extent 128 (a quarter of 512), crop 384. The first tile keeps its own value up to the crop.
        Assert.Equal(0f, At(383, 383));
        // Top right (value 1, 128 wide) fades in from its left neighbour (0) over its first 128 columns: x / 128.
        for (int x = 0; x < 128; x += 31) Assert.Equal(x / 128f, At(100, 384 + x), 6);
        // Bottom left (10) fades in from above (0) over its first 128 rows: 10 y / 128; below that it is itself.
        for (int y = 0; y < 128; y += 29) Assert.Equal(10f * y / 128, At(384 + y, 50), 5);
        Assert.Equal(10f, At(700, 50));
        // Bottom right (11): first blended with the top right as that was already blended (x / 128), then with the bottom left (10 y / 128, or 10).
        foreach (var (y, x) in new[] { (0, 0), (17, 90), (64, 64), (127, 1), (200, 77), (383, 127) })
        {
            double v = y < 128 ? x / 128.0 * (1 - y / 128.0) + 11 * (y / 128.0) : 11;
            double left = y < 128 ? 10.0 * y / 128 : 10;
            Assert.Equal(left * (1 - x / 128.0) + v * (x / 128.0), At(384 + y, 384 + x), 4);
        }
    }

    [Fact]
    public void Tiles_of_a_local_decoder_and_encoder_give_the_untiled_result_within_rounding()
    {
        // The built-in VAE maps each latent pixel to its own 8x8 block (and back), so overlapping tiles hold the
        // same values and blending them changes nothing but the last bit: any misplaced tile shows.
        using var tiled = LcmEngine.Load(models.Fp32Path, TestModels.Cpu with { VaeTiling = VaeTilingMode.Always });
        using var whole = LcmEngine.Load(models.Fp32Path, TestModels.Cpu with { VaeTiling = VaeTilingMode.Off });
        Assert.Equal(512, tiled.Capabilities.Memory.VaeTile(768, 640));
        Assert.Null(whole.Capabilities.Memory.VaeTile(768, 640));
        Assert.Null(tiled.Capabilities.Memory.VaeTile(512, 512));

        // 96 x 80 latents: a partial tile at the right and at the bottom.
        var text = new GenerationRequest { Prompt = Prompt, Width = 768, Height = 640, Steps = 2, Seed = 5 };
        var image = new GenerationRequest { Prompt = Prompt, Width = 768, Height = 640, Steps = 2, Seed = 5, Strength = 0.6, InitImage = InitImages.At(768, 640) };
        foreach (var request in new[] { text, image })
        {
            var a = tiled.Generate(request).Images[0];
            var b = whole.Generate(request).Images[0];
            int worst = a.Rgb.Zip(b.Rgb, (x, y) => Math.Abs(x - y)).Max();
            output.WriteLine($"{(request.InitImage is null ? "text" : "image")}-to-image, tiled against whole: largest difference {worst}");
            Assert.InRange(worst, 0, 1);
        }
        // And the whole image differs from another seed's, so equal images are not a constant output.
        Assert.NotEqual(whole.Generate(text).Images[0].Rgb, whole.Generate(text with { Seed = 6 }).Images[0].Rgb);
    }

    [Fact]
    public void A_size_whose_whole_VAE_pass_is_over_the_budget_runs_in_tiles_instead_of_being_refused()
    {
        // SDXL's UNet attends from its second level on, so at 1024x1024 the VAE's pass is the peak.
        string folder = sdxl.PathOf(SdxlModels.Options(ModelKind.LcmLora));
        var estimate = sdxl.Engine(SdxlModels.Options(ModelKind.LcmLora)).Capabilities.Memory.Estimate;
        long whole = estimate.PeakBytes(1024, 1024, 1), tiled = estimate.PeakBytes(1024, 1024, 1, 512);
        output.WriteLine($"estimated peak at 1024x1024: whole VAE {whole >> 20} MB, 512-pixel tiles {tiled >> 20} MB");
        Assert.True(tiled < whole, "the VAE should be the peak at this size");
        var request = new GenerationRequest { Prompt = Prompt, Width = 1024, Height = 1024, Steps = 1, Seed = 3 };

        using var off = LcmEngine.Load(folder, TestModels.Cpu with { MemoryBudgetBytes = tiled, VaeTiling = VaeTilingMode.Off });
        var refused = Assert.Throws<InvalidRequestException>(() => off.Validate(request));
        Assert.Equal(JobErrorCodes.RequestTooLarge, refused.Code);

        using var auto = LcmEngine.Load(folder, TestModels.Cpu with { MemoryBudgetBytes = tiled });
        Assert.Equal(512, auto.Capabilities.Memory.VaeTile(1024, 1024));
        auto.Validate(request);
        var image = auto.Generate(request).Images[0];
        Assert.Equal((1024, 1024), (image.Width, image.Height));
        // With room for the whole pass, auto does not tile: diffusers' default result.
        using var roomy = LcmEngine.Load(folder, TestModels.Cpu with { MemoryBudgetBytes = whole });
        Assert.Null(roomy.Capabilities.Memory.VaeTile(1024, 1024));
        Assert.InRange(image.Rgb.Zip(roomy.Generate(request).Images[0].Rgb, (x, y) => Math.Abs(x - y)).Max(), 0, 1);
    }

    [Theory]
    [InlineData(null, VaeTilingMode.Auto)]
    [InlineData("always", VaeTilingMode.Always)]
    [InlineData("OFF", VaeTilingMode.Off)]
    public void The_tiling_mode_is_a_setting(string? value, VaeTilingMode expected) =>
        Assert.Equal(expected, Lcm.Jobs.EngineSettings.ReadEngine(n => n == "LCM_VAE_TILING" ? value : null).VaeTiling);

    [Fact]
    public void An_unknown_tiling_mode_is_refused_by_name() =>
        Assert.Contains("LCM_VAE_TILING must be one of auto, always, off, found 'tiles'",
            Assert.Throws<ArgumentException>(() => Lcm.Jobs.EngineSettings.ReadEngine(n => n == "LCM_VAE_TILING" ? "tiles" : null)).Message);

    private static VaeTiling.Planes Constant(int channels, int height, int width, float value)
    {
        var values = new float[channels * height * width];
        Array.Fill(values, value);
        return new VaeTiling.Planes(values, channels, height, width);
    }
}
