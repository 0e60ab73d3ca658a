using System.Text.Json.Serialization;

namespace ScoringPlatform.Contracts;

/// <summary>
/// A lifecycle message on <see cref="Topics.LeadLifecycle"/>, keyed by lead id: one per lifecycle transition
/// (or the retraction of one a late event rewrote). The JSON Schema of each type is in
/// <c>contracts/schema/lifecycle/</c>. Headers: <c>message-id</c>, <c>message-type</c>, <c>model-version</c>,
/// <c>traceparent</c>.
/// </summary>
public sealed record LeadLifecycleMessage
{
    /// <summary>Unique per transition and lead; also the <c>message-id</c> header (consumers deduplicate on it).</summary>
    public required Guid MessageId { get; init; }

    /// <summary>One of <see cref="LifecycleMessageTypes"/>.</summary>
    public required string Type { get; init; }
    public required string LeadId { get; init; }

    /// <summary>When the transition happened (the score crossing, the profile change, the sales action, the deadline).</summary>
    [JsonConverter(typeof(Rfc3339TimestampConverter))]
    public required DateTimeOffset OccurredAt { get; init; }

    /// <summary>The transition's own id (stable when the timeline is recomputed); a retraction names the one it retracts.</summary>
    public string? TransitionId { get; init; }

    /// <summary>Stages: Lead, Mql, Sal, Sql, Converted, Recycled, Disqualified.</summary>
    public string? FromStage { get; init; }
    public string? ToStage { get; init; }

    /// <summary>MQL tiers: None, MqlLight, Mql, HotMql.</summary>
    public string? FromTier { get; init; }
    public string? Tier { get; init; }

    /// <summary>What caused it: kind (Threshold, Engagement, QualificationRule, HardRule, Tier, SalesAction, Sla) and id.</summary>
    public LifecycleCause? Cause { get; init; }

    /// <summary>An MQL entry of a lead that was an MQL before.</summary>
    public bool Reactivated { get; init; }
    public required double Score { get; init; }
    public double FitScore { get; init; }
    public double EngagementScore { get; init; }
    public required string ModelId { get; init; }
    public required int ModelVersion { get; init; }

    /// <summary>The engagement/profile event id or the sales action's idempotency key that caused it; absent when time alone did.</summary>
    public string? TriggeringEventId { get; init; }
    public string? Reason { get; init; }

    /// <summary>Sales actions: who acted; conversions: the amount won, when given.</summary>
    public string? Actor { get; init; }
    public decimal? Amount { get; init; }

    /// <summary>MQL entries and promotions: the follow-up deadline now running (absent for MQL-Light: nurture, no sales touch).</summary>
    [JsonConverter(typeof(NullableRfc3339TimestampConverter))]
    public DateTimeOffset? SlaDeadline { get; init; }
}

public sealed record LifecycleCause(string Kind, string Id);

public static class LifecycleMessageTypes
{
    /// <summary>Entered MQL (from Lead, Recycled or a lifted disqualification); <c>reactivated</c> when it was an MQL before.</summary>
    public const string MqlCrossed = "MqlCrossed";

    /// <summary>The MQL tier changed (MQL-Light / MQL / Hot MQL) while the lead stayed an MQL.</summary>
    public const string MqlTierChanged = "MqlTierChanged";

    /// <summary>Back to nurture: decayed or lost engagement (score-driven), or sales rejected/recycled it.</summary>
    public const string LeadRecycled = "LeadRecycled";
    public const string LeadDisqualified = "LeadDisqualified";
    public const string DisqualificationLifted = "DisqualificationLifted";
    public const string SalesAccepted = "SalesAccepted";
    public const string SalesQualified = "SalesQualified";
    public const string LeadConverted = "LeadConverted";

    /// <summary>No sales action by the follow-up deadline (the stage does not change).</summary>
    public const string SlaBreached = "SlaBreached";

    /// <summary>A previously published transition no longer holds: a late event rewrote the history before it.</summary>
    public const string TransitionRetracted = "TransitionRetracted";

    /// <summary>Published by versions before the lead lifecycle; leaving MQL is now <see cref="LeadRecycled"/> or <see cref="LeadDisqualified"/>.</summary>
    public const string MqlExited = "MqlExited";

    public static readonly IReadOnlyList<string> Current =
    [
        MqlCrossed, MqlTierChanged, LeadRecycled, LeadDisqualified, DisqualificationLifted,
        SalesAccepted, SalesQualified, LeadConverted, SlaBreached, TransitionRetracted,
    ];
}

/// <summary><see cref="Rfc3339TimestampConverter"/> for optional timestamps.</summary>
public sealed class NullableRfc3339TimestampConverter : JsonConverter<DateTimeOffset?>
{
    private static readonly Rfc3339TimestampConverter Inner = new();

    public override DateTimeOffset? Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
        reader.TokenType == System.Text.Json.JsonTokenType.Null ? null : Inner.Read(ref reader, typeof(DateTimeOffset), options);

    public override void Write(System.Text.Json.Utf8JsonWriter writer, DateTimeOffset? value, System.Text.Json.JsonSerializerOptions options)
    {
        if (value is { } v) Inner.Write(writer, v, options);
        else writer.WriteNullValue();
    }
}
