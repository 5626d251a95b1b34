using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary><c>lcm status ID</c> and <c>lcm cancel ID</c>: print the job's status document (with fresh image URLs).</summary>
internal static class StatusCommand
{
    public static async Task<int> RunAsync(string[] argv, bool cancel, CancellationToken cancellationToken)
    {
        var args = new Arguments(argv);
        string? connection = args.Text("connection");
        args.EnsureAllUsed(maxPositionals: 1);
        if (args.Positionals.Count == 0) throw new UsageException("the job ID is required");
        string id = args.Positionals[0];
        if (!Names.IsValidId(id)) throw new UsageException($"'{id}' is not a job id");
        var client = CliStorage.Client(connection);
        var status = cancel ? await client.CancelAsync(id, cancellationToken) : await client.GetStatusAsync(id, cancellationToken);
        if (status is null)
        {
            Console.Error.WriteLine($"no job with id '{id}'");
            return 1;
        }
        CliStorage.Print(status);
        return 0;
    }
}
