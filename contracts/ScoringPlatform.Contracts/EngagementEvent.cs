using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace ScoringPlatform.Contracts;

/// <summary>
/// The wire envelope of one engagement event on <see cref="Topics.EngagementEvents"/> (JSON, camelCase).
/// <see cref="Id"/> is the idempotency key: the same id delivered twice counts once.
/// The JSON Schema is published as <c>contracts/schema/engagement-event.schema.json</c>.
/// </summary>
public sealed record EngagementEvent
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public string? LeadId { get; init; }
    public string? AnonymousId { get; init; }
    [JsonConverter(typeof(Rfc3339TimestampConverter))]
    public required DateTimeOffset OccurredAt { get; init; }
    public string? Source { get; init; }
    public string? Campaign { get; init; }
    [JsonConverter(typeof(PropertiesConverter))]
    public Dictionary<string, JsonElement>? Properties { get; init; }
    public LeadTraits? Traits { get; init; }

    /// <summary>The key of the lead's stream: the lead id, else <c>anon:</c> + the anonymous id.</summary>
    [JsonIgnore]
    public string StreamKey => LeadId is { Length: > 0 } ? LeadId : AnonymousPrefix + AnonymousId;

    public const string AnonymousPrefix = "anon:";

    public string? Property(string name) =>
        Properties is not null && Properties.TryGetValue(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                _ => null,
            }
            : null;
}

/// <summary>Profile attributes carried by <c>profile_updated</c>; absent fields leave the profile unchanged.</summary>
/// <remarks>Unknown traits are refused (the schema says <c>additionalProperties: false</c>): a misspelt trait
/// silently dropped would leave the profile wrong.</remarks>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record LeadTraits
{
    public string? Email { get; init; }
    public string? JobTitle { get; init; }
    public int? CompanySize { get; init; }
    public string? Industry { get; init; }
    public string? Country { get; init; }
    public bool? BudgetAuthority { get; init; }
}

public static class ContractJson
{
    /// <summary>The serializer settings every producer and consumer of platform JSON uses.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        // The web defaults read "400" as the number 400; the contract (and its JSON Schema) says integer.
        NumberHandling = JsonNumberHandling.Strict,
    };
}

/// <summary>
/// Reads <see cref="EngagementEvent.Properties"/> as ONE JSON document whose members the dictionary's values point into.
/// The framework's dictionary converter parses a document per value: with the bench's two properties the dictionary was
/// 2.3 of the 3.4 µs and 1.0 of the 1.4 KB a message's deserialisation took, and one document brings the 1.4 KB down to
/// 0.9 KB (issue 11, fifteenth session, in docs/benchmarks.md). A name given twice keeps its last value, as the
/// framework's converter does.
/// </summary>
public sealed class PropertiesConverter : JsonConverter<Dictionary<string, JsonElement>>
{
    public override Dictionary<string, JsonElement> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("'properties' must be an object");
        // A document that owns its memory (not rented from the pool, so it needs no disposing), as the framework's converter
        // makes for each value: the values point into it and live as long as the event does.
        var root = JsonElement.ParseValue(ref reader);
        var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            properties[property.Name] = property.Value;
        }

        return properties;
    }

    public override void Write(Utf8JsonWriter writer, Dictionary<string, JsonElement> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (name, element) in value)
        {
            writer.WritePropertyName(name);
            element.WriteTo(writer);
        }

        writer.WriteEndObject();
    }
}

/// <summary>
/// RFC 3339 timestamps only, with an explicit offset: the framework's default would read a timestamp without
/// one in the server's local zone. The schema's <c>occurredAt</c> pattern is <see cref="Pattern"/>.
/// </summary>
public sealed partial class Rfc3339TimestampConverter : JsonConverter<DateTimeOffset>
{
    public const string Pattern = @"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?(Z|[+-][0-9]{2}:[0-9]{2})$";

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("'occurredAt' must be a string");
        var text = reader.GetString()!;
        if (!Rfc3339().IsMatch(text)
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var value))
        {
            throw new JsonException("'occurredAt' must be an RFC 3339 timestamp with an offset, e.g. 2026-11-01T10:00:00Z");
        }

        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString("O", CultureInfo.InvariantCulture));

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex Rfc3339();
}
