using System.Text.Json.Serialization;

namespace ScoringPlatform.Scoring.Lifecycle;

/// <summary>
/// One item of a lead's history as the lifecycle sees it: an engagement event, a profile update or a sales action.
/// Ordered by (instant, profile before engagement before sales, id), whatever the arrival order; an id seen twice
/// (same kind) counts once.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(EngagementInput), "engagement")]
[JsonDerivedType(typeof(ProfileInput), "profile")]
[JsonDerivedType(typeof(SalesInput), "sales")]
public abstract record LeadInput
{
    [JsonIgnore] public abstract string Id { get; }
    [JsonIgnore] public abstract DateTimeOffset At { get; }

    /// <summary>Among inputs at the same instant: profile (0), engagement (1), sales (2).</summary>
    [JsonIgnore] internal abstract int Rank { get; }

    /// <summary>Among sales actions at the same instant: the order they were recorded in (see <see cref="SalesAction.Sequence"/>).</summary>
    [JsonIgnore] internal virtual long Sequence => 0;

    internal static int Compare(LeadInput a, LeadInput b)
    {
        var c = a.At.UtcTicks.CompareTo(b.At.UtcTicks);
        if (c != 0) return c;
        c = a.Rank.CompareTo(b.Rank);
        if (c != 0) return c;
        c = a.Sequence.CompareTo(b.Sequence);
        return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
    }
}

public sealed record EngagementInput(ScoringEvent Event) : LeadInput
{
    [JsonIgnore] public override string Id => Event.EventId;
    [JsonIgnore] public override DateTimeOffset At => Event.OccurredAt;
    internal override int Rank => 1;
}

public sealed record ProfileInput(string EventId, DateTimeOffset OccurredAt, LeadProfile Profile) : LeadInput
{
    [JsonIgnore] public override string Id => EventId;
    [JsonIgnore] public override DateTimeOffset At => OccurredAt;
    internal override int Rank => 0;
}

public sealed record SalesInput(SalesAction Action) : LeadInput
{
    [JsonIgnore] public override string Id => Action.IdempotencyKey;
    [JsonIgnore] public override DateTimeOffset At => Action.At;
    internal override int Rank => 2;
    internal override long Sequence => Action.Sequence;
}

public enum SalesActionKind
{
    /// <summary>Sales accepts the MQL (SAL).</summary>
    Accept,

    /// <summary>Sales rejects the lead (not ready, wrong contact): back to nurture, with a reason.</summary>
    Reject,

    /// <summary>Sales hands the lead back to nurture, with a reason.</summary>
    Recycle,

    /// <summary>Sales qualifies an accepted lead (SQL).</summary>
    Qualify,

    /// <summary>Won: the lead became a customer (optional amount).</summary>
    Convert,

    /// <summary>Not a prospect at all, with a reason.</summary>
    Disqualify,
}

/// <summary>
/// Feedback from sales. <paramref name="ExpectedStage"/> (optional) is the stage the actor saw: if the lead has
/// moved on since, the action is refused instead of applied to a stage nobody looked at.
/// <paramref name="IdempotencyKey"/> identifies the action: a retry with the same key counts once.
/// <paramref name="Sequence"/> orders actions dated at the same instant (a recording order, e.g. the stream version the
/// action was stored at): accept, qualify and convert entered in one second must apply in that order, not by key.
/// </summary>
public sealed record SalesAction(
    SalesActionKind Kind,
    string Actor,
    DateTimeOffset At,
    string IdempotencyKey,
    string? Reason = null,
    LifecycleStage? ExpectedStage = null,
    decimal? Amount = null,
    long Sequence = 0);
