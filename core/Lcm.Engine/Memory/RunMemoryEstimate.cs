using System.Text.Json;
using Lcm.Engine.Loaders;

namespace Lcm.Engine.Memory;

/// <summary>
/// A run's peak working memory, estimated from the model folder's configs (the weights are not
/// counted: they are loaded once, before any run). Optimum's exports compute attention unfused, as
/// softmax(QKᵀ) over a full [batch, heads, tokens, tokens] matrix, so the widest attention level
/// dominates at large sizes; the VAE decoder's full-resolution convolutions come next. The figures
/// are generous on purpose: a refused request costs a clear error, an admitted one that does not fit
/// costs the process and every job beside it.
/// </summary>
public sealed class RunMemoryEstimate
{
    // Live activations at the first UNet level, in multiples of its own size: the skip connections of
    // every level, a ResNet's intermediates and the attention block's projections.
    private const int UnetActivationCopies = 24;
    // The VAE decoder's last up block holds twice the first level's channels at full resolution; a
    // convolution holds its input, its output and a normalisation copy.
    private const int VaeActivationCopies = 3;

    private RunMemoryEstimate(int unetChannels, int attentionLevel, int heads, int vaeChannels, int vaeSampleSize, int unetElementBytes, int? attentionBlockTokens)
    {
        (UnetChannels, AttentionLevel, Heads, VaeChannels, VaeSampleSize, UnetElementBytes, AttentionBlockTokens) =
            (unetChannels, attentionLevel, heads, vaeChannels, vaeSampleSize, unetElementBytes, attentionBlockTokens);
    }

    /// <summary>Channels of the UNet's first level (block_out_channels[0]).</summary>
    public int UnetChannels { get; }
    /// <summary>The first down block with attention: 0 for SD 1.5, 1 for SDXL.</summary>
    public int AttentionLevel { get; }
    /// <summary>Attention heads at <see cref="AttentionLevel"/>.</summary>
    public int Heads { get; }
    /// <summary>Channels of the VAE's first level (block_out_channels[0]).</summary>
    public int VaeChannels { get; }
    /// <summary>The VAE config's <c>sample_size</c>: diffusers' tile (<c>tile_sample_min_size</c>) when tiling is on.</summary>
    public int VaeSampleSize { get; }
    public int UnetElementBytes { get; }
    /// <summary>Query rows of one attention block where the UNet's attention is split (<see cref="Loaders.AttentionSlicer"/>); null: the full matrix.</summary>
    public int? AttentionBlockTokens { get; }

    /// <summary>
    /// From unet/config.json and vae_decoder/config.json, SD 1.5's values where a key is missing.
    /// diffusers names the head count attention_head_dim in SD 1.5 and SDXL configs (num_attention_heads
    /// where it is set), one number or one per level.
    /// </summary>
    public static RunMemoryEstimate For(string modelRoot, int unetElementBytes, int? attentionBlockTokens = null)
    {
        var unet = ReadConfig(Path.Combine(modelRoot, "unet", "config.json"));
        var vae = ReadConfig(Path.Combine(modelRoot, "vae_decoder", "config.json"));
        string[] blocks = Strings(unet, "down_block_types") ?? ["CrossAttnDownBlock2D"];
        int level = Math.Max(0, Array.FindIndex(blocks, b => b.Contains("Attn", StringComparison.Ordinal)));
        int heads = AtLevel(unet, "num_attention_heads", level) ?? AtLevel(unet, "attention_head_dim", level) ?? 8;
        return new RunMemoryEstimate(AtLevel(unet, "block_out_channels", 0) ?? 320, level, heads,
            AtLevel(vae, "block_out_channels", 0) ?? 128, AtLevel(vae, "sample_size", 0) ?? 512, unetElementBytes, attentionBlockTokens);
    }

    /// <summary>
    /// Bytes a run at this size needs at its peak, with <paramref name="unetBatch"/> latents in one UNet run
    /// (doubled by classifier-free guidance) and the VAE in tiles of <paramref name="vaeTile"/> pixels where given.
    /// </summary>
    public long PeakBytes(int width, int height, int unetBatch, int? vaeTile = null) =>
        Math.Max(UnetPeakBytes(width, height, unetBatch),
            vaeTile is int tile ? VaePeakBytes(Math.Min(width, tile), Math.Min(height, tile)) : VaePeakBytes(width, height));

    private long UnetPeakBytes(int width, int height, int unetBatch)
    {
        long latentPixels = (long)(height / 8) * (width / 8);
        long tokens = (long)(height / 8 >> AttentionLevel) * (width / 8 >> AttentionLevel);
        // Softmax's input and output are both alive, over every query row or over one block's.
        long rows = AttentionBlockTokens is int block ? Math.Min(block, tokens) : tokens;
        long attention = 2L * unetBatch * Heads * rows * tokens * UnetElementBytes;
        long activations = (long)UnetActivationCopies * unetBatch * UnetChannels * latentPixels * UnetElementBytes;
        return attention + activations;
    }

    /// <summary>The decoder (or encoder) on one image or tile, in float32 (the SD VAE overflows in float16); its mid block has one head over the latent pixels.</summary>
    public long VaePeakBytes(int width, int height)
    {
        long latentPixels = (long)(height / 8) * (width / 8);
        long attention = 2L * latentPixels * latentPixels * 4;
        long activations = (long)VaeActivationCopies * 2 * VaeChannels * width * height * 4;
        return attention + activations;
    }

    private static JsonElement? ReadConfig(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"'{path}' is not valid JSON: {e.Message}", e);
        }
    }

    private static string[]? Strings(JsonElement? config, string key) =>
        config is { } c && c.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!).ToArray()
            : null;

    /// <summary>A number, or the number at <paramref name="level"/> of a list; null when absent or not a positive integer.</summary>
    private static int? AtLevel(JsonElement? config, string key, int level)
    {
        if (config is not { } c || !c.TryGetProperty(key, out var value)) return null;
        if (value.ValueKind == JsonValueKind.Array) value = value.GetArrayLength() > level ? value[level] : default;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) && n > 0 ? n : null;
    }
}
