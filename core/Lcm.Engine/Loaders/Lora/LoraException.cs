namespace Lcm.Engine.Loaders.Lora;

/// <summary>
/// A LoRA file that cannot be used: malformed, unknown, or not matching the model. A LoRA file is
/// input from outside, so the message names the file and says exactly what is wrong with it.
/// </summary>
public sealed class LoraException(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The file is not a well-formed safetensors LoRA.</summary>
    public const string InvalidFile = "invalid_lora";

    /// <summary>The file's keys or shapes do not match the model's graphs.</summary>
    public const string Mismatch = "lora_mismatch";

    /// <summary>No LoRA of that name in the configured folder.</summary>
    public const string Unknown = "unknown_lora";

    public string Code { get; } = code;
}
