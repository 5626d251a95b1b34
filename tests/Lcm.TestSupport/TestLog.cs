using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// A logger that keeps every line (tests count what a worker did) and shows them in the test's output.
/// As a provider it is every category's logger, so a composed worker logs all its lines here.
/// </summary>
public sealed class TestLog(string name, ITestOutputHelper? output = null) : ILogger, ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public int Count(string contains) => _lines.Count(l => l.Contains(contains, StringComparison.Ordinal));

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    ILogger ILoggerProvider.CreateLogger(string categoryName) => this;

    void IDisposable.Dispose()
    {
    }

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        string line = $"{DateTime.Now:HH:mm:ss.fff} {name} {logLevel}: {formatter(state, exception)}{(exception is null ? "" : $" [{exception.GetType().Name}: {exception.Message}]")}";
        _lines.Enqueue(line);
        Write(output, line);
    }

    /// <summary>Writes to the test output; a worker still stopping after its test ended must not throw.</summary>
    public static void Write(ITestOutputHelper? output, string line)
    {
        try
        {
            output?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
