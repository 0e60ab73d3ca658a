using System.Text.Json;
using System.Text.Json.Serialization;

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
    public required DateTimeOffset OccurredAt { get; init; }
    public string? Source { get; init; }
    public string? Campaign { get; init; }
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
public sealed record LeadTraits
{
    public string? Email { get; init; }
    public string? JobTitle { get; init; }
    public int? CompanySize { get; init; }
    public string? Industry { get; init; }
    public string? Country { get; init; }
    public bool? BudgetAuthority { get; init; }
}

/// <summary>A lifecycle message on <see cref="Topics.LeadLifecycle"/>, keyed by lead id.</summary>
public sealed record LeadLifecycleMessage
{
    /// <summary>Unique per lifecycle transition; also sent as the <c>message-id</c> header.</summary>
    public required Guid MessageId { get; init; }
    public required string Type { get; init; }
    public required string LeadId { get; init; }
    public required DateTimeOffset OccurredAt { get; init; }
    public required double Score { get; init; }
    public double FitScore { get; init; }
    public double EngagementScore { get; init; }
    public string? Tier { get; init; }
    public required string ModelId { get; init; }
    public required int ModelVersion { get; init; }
    public string? TriggeringEventId { get; init; }
    public string? Reason { get; init; }
}

public static class LifecycleMessageTypes
{
    public const string MqlCrossed = "MqlCrossed";
    public const string MqlExited = "MqlExited";
}

public static class ContractJson
{
    /// <summary>The serializer settings every producer and consumer of platform JSON uses.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };
}
