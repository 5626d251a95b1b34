namespace Lcm.Engine.Pipelines;

/// <summary>Reports on the calling thread, so reports arrive in order and before the result (Progress&lt;T&gt; posts to the thread pool).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
