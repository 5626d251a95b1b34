using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace Lcm.Functions;

/// <summary><c>GET /api/health</c> over <see cref="HealthApi"/>, behind the function key like every route.</summary>
public sealed class HealthHttp(HealthApi api)
{
    [Function("Health")]
    public async Task<HttpResponseData> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "health")] HttpRequestData request, CancellationToken cancellationToken) =>
        await JobsHttp.WriteAsync(request, await api.GetAsync(cancellationToken), cancellationToken);
}
