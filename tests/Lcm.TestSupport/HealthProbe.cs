using System.Text.Json;

namespace Lcm.Tests.Service;

/// <summary>Reads <c>lcm worker</c>'s health endpoint as a container's probe does: the status code and the JSON body.</summary>
public static class HealthProbe
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public static async Task<(int Code, JsonElement Body)> GetAsync(int port, string path)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{port}{path}");
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return ((int)response.StatusCode, body);
    }

    /// <summary>Polls until <paramref name="path"/> answers <paramref name="code"/> (a process not yet listening counts as not yet); returns that answer's body.</summary>
    public static async Task<JsonElement> WaitForAsync(int port, string path, int code, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? ServiceStorage.Timeout);
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var (got, body) = await GetAsync(port, path);
                if (got == code) return body;
                last = $"{got} {body}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{path} on port {port} did not answer {code}; last: {last}");
    }
}
