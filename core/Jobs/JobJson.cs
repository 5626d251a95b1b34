using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lcm.Core.Jobs;

/// <summary>The JSON settings of every contract document: camelCase names, enums as lower-case strings, nulls omitted in requests.</summary>
public static class JobJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Documents are read by programs and people, never embedded in HTML: keep '&' in SAS URLs readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}
