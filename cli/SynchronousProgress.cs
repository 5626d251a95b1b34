namespace Lcm.Cli;

/// <summary>Reports on the calling thread, so step lines print in order before the result (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
