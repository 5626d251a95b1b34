namespace Lcm.Engine.Memory;

/// <summary>How the UNet's attention is split into query blocks (<see cref="Loaders.AttentionSlicer"/>), LCM_ATTENTION_SLICING.</summary>
public enum AttentionSlicingMode
{
    /// <summary>
    /// Blocks of <see cref="Loaders.AttentionSlicer.AutoBlockTokens"/> query tokens: only attention longer than that is split
    /// (SD 1.5 above 512x512), so the sizes that fitted before compute as before.
    /// </summary>
    Auto,
    /// <summary>Blocks of <see cref="Loaders.AttentionSlicer.AlwaysBlockTokens"/> query tokens: the smallest peak, for hosts short of memory; SD 1.5 is split above 256x256.</summary>
    Always,
    /// <summary>Never: the full [batch, heads, tokens, tokens] matrix, and sizes whose matrix does not fit are refused.</summary>
    Off,
}
