using ScoringPlatform.Scoring.Lifecycle;

namespace ScoringPlatform.Leads;

// Events stored in each lead's stream (stream key = lead id). They are facts the platform accepted,
// separate from the wire envelope they were translated from at the edge.

/// <summary>A behavioural signal (page view, download, form, email, ...) the lead produced.</summary>
public sealed record EngagementRecorded(
    string SourceEventId,
    string Type,
    DateTimeOffset OccurredAt,
    string? Category,
    string? ActivityKey,
    string? Source,
    string? Campaign);

/// <summary>Profile attributes changed; null fields are unchanged.</summary>
public sealed record ProfileUpdated(
    string SourceEventId,
    DateTimeOffset OccurredAt,
    string? Email,
    string? JobTitle,
    int? CompanySize,
    string? Industry,
    string? Country,
    bool? BudgetAuthority,
    string? Source);

/// <summary>
/// Sales feedback on the lead (accept, reject, recycle, qualify, convert, disqualify), appended by the Api after
/// it checked the action against the lead's stage. Event id = <c>EventIds.Derived("sales-feedback", lead, key)</c>,
/// so a retried call with the same <see cref="IdempotencyKey"/> is stored once. <see cref="At"/> is when the
/// action happened (the lifecycle dates its transition there), <see cref="RecordedAt"/> when the Api stored it,
/// <see cref="StreamVersion"/> the version it was stored at (the Api holds the stream row's lock, so it knows it).
/// </summary>
public sealed record SalesFeedbackRecorded(
    string IdempotencyKey,
    SalesActionKind Action,
    string Actor,
    DateTimeOffset At,
    string? Reason,
    LifecycleStage? ExpectedStage,
    decimal? Amount,
    DateTimeOffset RecordedAt,
    long StreamVersion = 0)
{
    /// <summary>The action; actions dated at the same instant apply in the order they were stored (<see cref="StreamVersion"/>).</summary>
    public SalesAction ToAction() => new(Action, Actor, At, IdempotencyKey, Reason, ExpectedStage, Amount, StreamVersion);
}

/// <summary>
/// The lifecycle scheduler woke this lead at <see cref="DueAt"/>, an instant at which time alone changes its
/// lifecycle (decay exit, tier drop, SLA deadline). Appended by the Projections service's scheduler with a
/// deterministic event id (lead, due instant), so several scheduler replicas record it once; the projection
/// moves the lead's clock to <see cref="DueAt"/>.
/// </summary>
public sealed record LifecycleClockTicked(DateTimeOffset DueAt);

/// <summary>
/// The lead crossed the MQL enter threshold. Written to lead streams by an earlier version of the score
/// projection; kept so those streams still load. Transitions now go to the lifecycle outbox.
/// </summary>
public sealed record MqlCrossed(
    string LeadId,
    DateTimeOffset CrossedAt,
    double Score,
    double FitScore,
    double EngagementScore,
    string Tier,
    string ModelId,
    int ModelVersion,
    string TriggeringEventId,
    string? TraceParent);

/// <summary>The lead fell below the MQL exit threshold. Legacy, like <see cref="MqlCrossed"/>.</summary>
public sealed record MqlExited(
    string LeadId,
    DateTimeOffset ExitedAt,
    double Score,
    string ModelId,
    int ModelVersion,
    string TriggeringEventId,
    string? TraceParent);

/// <summary>What kind of identity was linked to a lead.</summary>
public enum IdentityKind
{
    /// <summary>A visitor's anonymous id (stream <c>anon:&lt;id&gt;</c>).</summary>
    Anonymous,

    /// <summary>Another lead id: a merge.</summary>
    Lead,
}

/// <summary>
/// Another identity was linked to this lead (identify or alias, or a merge of another lead id). Appended to the
/// surviving lead's stream by Ingestion in the same transaction that copied the linked stream's engagement and
/// profile events into it (<see cref="EventsCopied"/>) and recorded the alias; not scored, listed in the timeline and
/// the verdict. <see cref="LinkedKey"/> is the linked stream key (<c>anon:&lt;id&gt;</c> or the lead id),
/// <see cref="LinkedId"/> the id as sent. Event id = <c>EventIds.Derived("identity-link", lead, LinkedKey)</c>.
/// </summary>
public sealed record IdentityLinked(
    string LinkedKey,
    string LinkedId,
    IdentityKind Kind,
    string SourceEventId,
    DateTimeOffset OccurredAt,
    int EventsCopied);

/// <summary>
/// This stream's identity was linked into <see cref="LeadId"/>: its events were copied there, later events under its
/// key go there. Its own view stops producing lifecycle transitions and schedule rows.
/// </summary>
public sealed record MergedInto(string LeadId, string SourceEventId, DateTimeOffset OccurredAt);
