namespace ScoringPlatform.Scoring;

/// <summary>
/// One engagement event as the model sees it (translated from the stored event at the edge).
/// <paramref name="ActivityKey"/> names the activity (email, campaign, page, asset) for the per-activity-per-day
/// frequency caps; null counts as one shared activity per rule.
/// </summary>
public readonly record struct ScoringEvent(
    string EventId,
    string Type,
    DateTimeOffset OccurredAt,
    string? Category = null,
    string? ActivityKey = null)
{
    /// <summary>Events before this instant are not scored (<see cref="UnscoredReason.OccurredAtOutOfRange"/>); the edge should refuse them first.</summary>
    public static readonly DateTimeOffset EarliestAccepted = new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Events after this instant are not scored: a year-9999 timestamp must not push the decay reference out of range.</summary>
    public static readonly DateTimeOffset LatestAccepted = new(2200, 1, 1, 0, 0, 0, TimeSpan.Zero);

    internal static readonly long EarliestAcceptedTicks = EarliestAccepted.UtcTicks;
    internal static readonly long LatestAcceptedTicks = LatestAccepted.UtcTicks;
}

/// <summary>Traits from <c>profile_updated</c>; null fields leave the profile unchanged.</summary>
public sealed record LeadProfile(
    string? Email,
    string? JobTitle,
    int? CompanySize,
    string? Industry,
    string? Country,
    bool? BudgetAuthority);

public enum ApplyOutcome
{
    /// <summary>Counted by an engagement rule.</summary>
    Counted,

    /// <summary>Counted; it is earlier in its day than an event already counted under the same frequency cap, which it replaced.</summary>
    CountedReplacingLater,

    /// <summary>Matched a rule but the per-activity daily frequency cap was already reached by earlier events.</summary>
    FrequencyCapped,

    /// <summary>No rule applies; contributes nothing (never an error). See <see cref="ApplyResult.Reason"/>.</summary>
    Unscored,
}

public enum UnscoredReason
{
    None,
    UnknownEventType,
    NoRuleForEventType,
    NoRuleForCategory,

    /// <summary>The timestamp is outside <see cref="ScoringEvent.EarliestAccepted"/>..<see cref="ScoringEvent.LatestAccepted"/>.</summary>
    OccurredAtOutOfRange,

    /// <summary><c>profile_updated</c> carries traits: apply them with <see cref="LeadScoreState.ApplyProfile(LeadProfile, ScoringModel)"/>.</summary>
    ProfileEvent,
}

/// <summary>What applying one event did. A struct so the hot path does not allocate.</summary>
public readonly record struct ApplyResult(ApplyOutcome Outcome, string? RuleId, double Points, UnscoredReason Reason)
{
    public bool Counted => Outcome is ApplyOutcome.Counted or ApplyOutcome.CountedReplacingLater;

    internal static ApplyResult Unscored(UnscoredReason reason) => new(ApplyOutcome.Unscored, null, 0, reason);
}

public enum StageDirection
{
    EnteredMql,
    ExitedMql,
}

/// <summary>
/// A hysteresis stage change. <paramref name="At"/> is the exact instant: for an exit by decay, when the score
/// crossed below the exit threshold (may be before the as-of instant passed to UpdateStage).
/// </summary>
public sealed record StageTransition(
    StageDirection Direction,
    DateTimeOffset At,
    double TotalScore,
    MqlTier Tier,
    string Reason,
    bool IsReactivation,
    string ModelId,
    int ModelVersion);
