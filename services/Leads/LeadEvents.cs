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
