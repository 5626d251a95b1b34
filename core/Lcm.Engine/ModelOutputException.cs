namespace Lcm.Engine;

/// <summary>
/// A run whose model gave output that cannot make an image (<c>vae_overflow</c>). Running it again
/// gives the same, so a job fails with <see cref="Code"/> instead of being retried; the message names the fix.
/// </summary>
public sealed class ModelOutputException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
