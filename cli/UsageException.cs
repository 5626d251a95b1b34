namespace Lcm.Cli;

/// <summary>Bad command-line arguments: exit code 2, with a message that names the argument.</summary>
internal sealed class UsageException(string message) : Exception(message);
