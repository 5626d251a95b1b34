using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lcm.Contracts;

/// <summary>The JSON settings of the contract: camelCase names, enums as lower-case strings; requests omit nulls.</summary>
public static class JobJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Documents are read by programs and people, never embedded in HTML: keep '&' in SAS URLs readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>For status documents and events: the contract shows absent values as null ("error": null), not as missing keys.</summary>
    public static readonly JsonSerializerOptions Documents = new(Options) { DefaultIgnoreCondition = JsonIgnoreCondition.Never };
}
