namespace ScoringPlatform.Scoring;

public enum MqlTier
{
    None,

    /// <summary>Engagement without fit: nurture, no sales touch.</summary>
    MqlLight,

    /// <summary>Fit and engagement.</summary>
    Mql,

    /// <summary>Demo request, or pricing page plus a direct sales interaction, with fit: immediate attention.</summary>
    HotMql,
}

public enum RuleKind
{
    Fit,
    Negative,
    Engagement,
}

/// <summary>
/// One rule's part in a verdict. <paramref name="RawPoints"/> is points × count before decay,
/// <paramref name="Decayed"/> the decayed value at asOf, <paramref name="Contribution"/> its share after the
/// group cap (caps admit points as they arrive, so Decayed − Contribution is what the cap refused, decayed).
/// <paramref name="TopEventIds"/>: the rule's newest counted events (its largest contributors).
/// </summary>
public sealed record RuleContribution(
    string RuleId,
    RuleKind Kind,
    string? Group,
    double RawPoints,
    double Decayed,
    double Contribution,
    int Count,
    DateTimeOffset? LastOccurredAt,
    IReadOnlyList<string> TopEventIds);

/// <summary>A rule group's decayed sum before and after its cap.</summary>
public sealed record GroupScore(string GroupId, double Uncapped, double Score, double? Cap, TimeSpan? HalfLife);

public sealed record Disqualification(string RuleId, string Reason);

/// <summary>
/// "Is this lead an MQL at <paramref name="AsOf"/>, and why?" <paramref name="IsMql"/> applies hysteresis against
/// the state's stage (score &gt;= enter, or already MQL and score &gt;= exit) and is false whenever a hard rule
/// disqualifies. <paramref name="DropsBelowExitAt"/>: the exact instant the score falls below the exit threshold
/// if nothing else happens (null when it already is below, or never will be); it also counts the engagement an MQL
/// needs to stay one. <paramref name="QualifiedBy"/>: "threshold" when points qualified the lead, else the
/// qualification rule's id (null when not an MQL); <paramref name="TierReason"/> carries the rule's reason.
/// </summary>
public sealed record Verdict(
    DateTimeOffset AsOf,
    double FitScore,
    double EngagementScore,
    double TotalScore,
    bool IsMql,
    MqlTier Tier,
    string TierReason,
    char FitGrade,
    int EngagementBand,
    string MatrixCell,
    string ModelId,
    int ModelVersion,
    double EnterThreshold,
    double ExitThreshold,
    IReadOnlyList<RuleContribution> Contributions,
    IReadOnlyList<GroupScore> Groups,
    Disqualification? Disqualification,
    DateTimeOffset? DropsBelowExitAt,
    long CountedEvents,
    long FrequencyCappedEvents,
    long UnscoredEvents,
    string? QualifiedBy = null);
