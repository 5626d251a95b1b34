namespace Lcm.Engine.Memory;

/// <summary>When the VAE works in tiles (<see cref="Models.VaeTiling"/>), LCM_VAE_TILING.</summary>
public enum VaeTilingMode
{
    /// <summary>Only where the whole image would not fit the memory budget, in the largest tile that does: otherwise exactly diffusers' default (untiled) result.</summary>
    Auto,
    /// <summary>Every image larger than the VAE config's <c>sample_size</c>, in tiles of that size: diffusers with <c>enable_vae_tiling()</c>.</summary>
    Always,
    /// <summary>Never; an image whose VAE pass does not fit is refused.</summary>
    Off,
}
