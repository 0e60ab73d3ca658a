using System.Text.Json.Serialization;

namespace ScoringPlatform.Scoring.Lifecycle;

/// <summary>Lead -> MQL (tiers) -> SAL -> SQL -> Converted; or Recycled (back to nurture) / Disqualified, always with a reason.</summary>
public enum LifecycleStage
{
    Lead,
    Mql,

    /// <summary>Sales accepted.</summary>
    Sal,

    /// <summary>Sales qualified.</summary>
    Sql,
    Converted,
    Recycled,
    Disqualified,
}

public enum TransitionKind
{
    /// <summary>Entered MQL (<see cref="LifecycleTransition.IsReactivation"/> when it was an MQL before).</summary>
    MqlEntered,

    /// <summary>MQL tier moved up or down while the lead stayed an MQL.</summary>
    TierChanged,

    /// <summary>Back to nurture: the score or engagement fell below what an MQL needs, or sales rejected/recycled it.</summary>
    Recycled,

    /// <summary>A hard rule (profile) or sales disqualified the lead.</summary>
    Disqualified,

    /// <summary>The hard rule that disqualified the lead no longer holds (profile corrected): back to Lead.</summary>
    DisqualificationLifted,
    SalesAccepted,
    SalesQualified,
    Converted,

    /// <summary>No sales action by the follow-up deadline; the stage does not change.</summary>
    SlaBreached,
}

public enum CauseKind
{
    /// <summary>Score against the enter/exit thresholds (<see cref="TransitionCause.Id"/> "threshold").</summary>
    Threshold,

    /// <summary>Engagement below the minimum to enter/stay (<see cref="TransitionCause.Id"/> "engagement").</summary>
    Engagement,
    QualificationRule,
    HardRule,

    /// <summary>Tier rules: fit grade, hot signals (<see cref="TransitionCause.Id"/> the tier reached).</summary>
    Tier,
    SalesAction,
    Sla,
}

/// <summary>Why a transition happened: what kind of rule, its id (threshold, rule id, hard rule id, sales action kind).</summary>
public sealed record TransitionCause(CauseKind Kind, string Id);

public readonly record struct LifecycleScores(double Total, double Fit, double Engagement);

/// <summary>
/// One lifecycle transition. <see cref="Id"/> is a deterministic hash of what happened (kind, instant, stages, tiers,
/// cause, ordinal among transitions at that instant; not the triggering input): recomputing the timeline gives the
/// same id for the same transition, so consumers and outboxes deduplicate by it. <see cref="TriggeringInputId"/> is the event id or the sales action's idempotency key,
/// null for a transition that time alone caused (decay exit, tier drop, SLA breach). <see cref="SlaDeadline"/>: on MQL
/// entries and promotions, the follow-up deadline running after it (none for MQL-Light).
/// </summary>
public sealed record LifecycleTransition(
    string Id,
    TransitionKind Kind,
    LifecycleStage From,
    LifecycleStage To,
    MqlTier FromTier,
    MqlTier ToTier,
    DateTimeOffset At,
    TransitionCause Cause,
    string? TriggeringInputId,
    LifecycleScores Scores,
    string ModelId,
    int ModelVersion,
    string Reason,
    bool IsReactivation = false,
    string? Actor = null,
    decimal? Amount = null,
    DateTimeOffset? SlaDeadline = null);

/// <summary>The follow-up deadline of the current MQL episode, and whether a sales action met it.</summary>
public sealed record SlaStatus(MqlTier Tier, DateTimeOffset StartedAt, DateTimeOffset Deadline, DateTimeOffset? MetAt, bool Breached)
{
    [JsonIgnore]
    public bool Met => MetAt is { } m && m <= Deadline;
}

/// <summary>A lead's lifecycle at an instant: stage, tier (MQL only), since when, why, MQL entries, SLA.</summary>
public sealed record LifecycleStatus(
    LifecycleStage Stage,
    MqlTier Tier,
    DateTimeOffset? Since,
    string? Reason,
    int MqlEntries,
    SlaStatus? Sla)
{
    public static LifecycleStatus Initial { get; } = new(LifecycleStage.Lead, MqlTier.None, null, null, 0, null);
}

/// <summary>A sales action the lifecycle did not accept, naming the stage it found.</summary>
public sealed record SalesRefusal(string IdempotencyKey, SalesActionKind Action, DateTimeOffset At, LifecycleStage CurrentStage, string Reason);
