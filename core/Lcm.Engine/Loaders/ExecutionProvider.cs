namespace Lcm.Engine.Loaders;

/// <summary>Where the graphs run. Auto tries CUDA and falls back to the CPU with the reason logged.</summary>
public enum ExecutionProvider
{
    Auto,
    Cpu,
    Cuda,
}
