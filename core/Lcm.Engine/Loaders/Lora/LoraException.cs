using Lcm.Contracts;

namespace Lcm.Engine.Loaders.Lora;

/// <summary>
/// A LoRA file that cannot be used: malformed, unknown, or not matching the model. A LoRA file is
/// input from outside, so the message names the file and says exactly what is wrong with it.
/// </summary>
public sealed class LoraException(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The file is not a well-formed safetensors LoRA.</summary>
    public const string InvalidFile = JobErrorCodes.InvalidLora;

    /// <summary>The file's keys or shapes do not match the model's graphs.</summary>
    public const string Mismatch = JobErrorCodes.LoraMismatch;

    /// <summary>No LoRA of that name in the configured folder.</summary>
    public const string Unknown = JobErrorCodes.UnknownLora;

    public string Code { get; } = code;
}
