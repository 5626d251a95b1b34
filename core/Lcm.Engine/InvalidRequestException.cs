namespace Lcm.Engine;

/// <summary>A request the engine refuses. <see cref="Code"/> is stable (e.g. <c>invalid_width</c>); the message says what to change.</summary>
public sealed class InvalidRequestException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
