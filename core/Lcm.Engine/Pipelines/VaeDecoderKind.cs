namespace Lcm.Engine.Pipelines;

/// <summary>Which VAE decoder turns a request's latents into pixels.</summary>
public enum VaeDecoderKind
{
    /// <summary>The model's own AutoencoderKL decoder (vae_decoder/).</summary>
    Full,

    /// <summary>A tiny autoencoder (TAESD / TAESDXL): a fraction of the time, for drafts; details are softer.</summary>
    Tiny,
}

public static class VaeDecoderKinds
{
    /// <summary>full or tiny, as the contract spells them; null for anything else.</summary>
    public static VaeDecoderKind? Parse(string? text) => text switch
    {
        "full" => VaeDecoderKind.Full,
        "tiny" => VaeDecoderKind.Tiny,
        _ => null,
    };
}
