using System.Net;
using System.Text.Json;
using Lcm.Contracts;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace Lcm.Functions;

/// <summary>HTTP routes over <see cref="JobApi"/>: POST /api/jobs, GET /api/jobs/{id}, POST /api/jobs/{id}/cancel, POST /api/inputs.</summary>
public sealed class JobsHttp(JobApi api)
{
    [Function("SubmitJob")]
    public async Task<HttpResponseData> Submit([HttpTrigger(AuthorizationLevel.Function, "post", Route = "jobs")] HttpRequestData request, CancellationToken cancellationToken)
    {
        var result = await api.SubmitAsync(request.Body, Headers(request), id => new Uri(request.Url, $"/api/jobs/{id}").ToString(), cancellationToken);
        return await WriteAsync(request, result, cancellationToken);
    }

    [Function("UploadInput")]
    public async Task<HttpResponseData> UploadInput([HttpTrigger(AuthorizationLevel.Function, "post", Route = "inputs")] HttpRequestData request, CancellationToken cancellationToken) =>
        await WriteAsync(request, await api.UploadInputAsync(request.Body, Headers(request), cancellationToken), cancellationToken);

    [Function("GetJob")]
    public async Task<HttpResponseData> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "jobs/{id}")] HttpRequestData request, string id, CancellationToken cancellationToken) =>
        await WriteAsync(request, await api.GetAsync(id, Headers(request), cancellationToken), cancellationToken);

    [Function("CancelJob")]
    public async Task<HttpResponseData> Cancel([HttpTrigger(AuthorizationLevel.Function, "post", Route = "jobs/{id}/cancel")] HttpRequestData request, string id, CancellationToken cancellationToken) =>
        await WriteAsync(request, await api.CancelAsync(id, Headers(request), cancellationToken), cancellationToken);

    private static Func<string, string?> Headers(HttpRequestData request) =>
        name => request.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>An <see cref="ApiResult"/> as a JSON response; every route answers through it.</summary>
    internal static async Task<HttpResponseData> WriteAsync(HttpRequestData request, ApiResult result, CancellationToken cancellationToken)
    {
        var response = request.CreateResponse((HttpStatusCode)result.StatusCode);
        response.Headers.Add("Content-Type", "application/json; charset=utf-8");
        if (result.Location is { } location) response.Headers.Add("Location", location);
        await response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(result.Body, result.Body.GetType(), JobJson.Options), cancellationToken);
        return response;
    }
}
