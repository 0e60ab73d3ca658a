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

/// <summary>One rule's part in a verdict. For engagement rules, Contribution is decayed (and scaled by its group cap).</summary>
public sealed record RuleContribution(
    string RuleId,
    string? Group,
    double RawPoints,
    double Contribution,
    int Count,
    DateTimeOffset? LastOccurredAt,
    IReadOnlyList<string> TopEventIds);

public sealed record Disqualification(string RuleId, string Reason);

public sealed record Verdict(
    DateTimeOffset AsOf,
    double FitScore,
    double EngagementScore,
    double TotalScore,
    bool IsMql,
    MqlTier Tier,
    char FitGrade,
    int EngagementBand,
    string MatrixCell,
    string ModelId,
    int ModelVersion,
    IReadOnlyList<RuleContribution> Contributions,
    Disqualification? Disqualification,
    DateTimeOffset? DropsBelowExitAt,
    bool Exact);
