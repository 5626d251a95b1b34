namespace Lcm.Engine.Loaders;

/// <summary>
/// The provider the sessions run on once <see cref="ExecutionProvider"/> is decided. The members
/// are spelt as printed (logs, <c>lcm info</c>, the prepared-cache key), so ToString needs no mapping.
/// </summary>
public enum ActiveProvider
{
    CPU,
    CUDA,
}
