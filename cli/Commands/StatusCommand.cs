using System.CommandLine;
using Lcm.Contracts;

namespace Lcm.Cli;

/// <summary><c>lcm status ID</c> and <c>lcm cancel ID</c>: print the job's status document (with fresh image URLs).</summary>
internal static class StatusCommand
{
    /// <summary><c>status</c>, or with <paramref name="cancel"/> <c>cancel</c>: the same job id and storage, another call.</summary>
    public static Command Create(bool cancel)
    {
        var id = new Argument<string>("ID") { Description = "The job id." };
        var connectionOption = CliOptions.Connection();
        var command = new Command(cancel ? "cancel" : "status", cancel
            ? "Cancels a queued or running job and prints its status; a finished job keeps its own."
            : "Prints a job's status (image URLs with a fresh SAS).") { id, connectionOption };
        command.SetAction((args, cancellationToken) => RunAsync(args.GetValue(id)!, args.GetValue(connectionOption), cancel, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string id, string? connection, bool cancel, CancellationToken cancellationToken)
    {
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
