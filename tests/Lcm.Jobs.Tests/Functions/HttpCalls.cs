using System.Text;
using System.Text.Json;
using Lcm.Contracts;
using Lcm.Functions;

namespace Lcm.Tests.Functions;

/// <summary>What an HTTP route hands <see cref="JobApi"/>: bodies, headers and the status URL of a job; and what it gets back.</summary>
internal static class HttpCalls
{
    public static readonly Func<string, string?> NoHeaders = _ => null;

    public static Func<string, string?> Headers(params (string Name, string Value)[] headers) =>
        name => headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public static Stream Body(string json) => new MemoryStream(Encoding.UTF8.GetBytes(json));

    public static string StatusUrl(string id) => $"https://app.example.net/api/jobs/{id}";

    public static string? ErrorCode(ApiResult result) =>
        JsonSerializer.SerializeToElement(result.Body, JobJson.Options).TryGetProperty("error", out var error) ? error.GetProperty("code").GetString() : null;
}
