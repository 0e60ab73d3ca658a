using ScoringPlatform.Scoring;

namespace ScoringPlatform.Leads.Scoring;

/// <summary>
/// The per-lead score document maintained by <see cref="LeadScoreProjection"/> (id = lead id).
/// It holds the scoring state (decay accumulators), not a frozen score: verdicts are computed from it
/// for any instant.
/// </summary>
public sealed class LeadScoreView
{
    public const int StageChangesKept = 8;

    public string Id { get; set; } = "";
    public LeadScoreState State { get; set; } = new();
    public string ModelId { get; set; } = "";
    public int ModelVersion { get; set; }
    public long EventCount { get; set; }
    public DateTimeOffset? FirstEventAt { get; set; }
    public DateTimeOffset? LastEventAt { get; set; }
    public bool IsMql { get; set; }
    public int MqlCrossings { get; set; }
    public DateTimeOffset? LastCrossedAt { get; set; }

    /// <summary>The latest stage changes (bounded), each tied to the event that caused it.</summary>
    public List<StageChange> RecentStageChanges { get; set; } = [];
}

public enum StageChangeKind
{
    EnteredMql,
    ExitedMql,
}

/// <summary>A stage change and the event that caused it; the projection turns it into a lifecycle outbox row.</summary>
public sealed record StageChange(
    StageChangeKind Kind,
    Guid TriggeringEventId,
    string TriggeringSourceEventId,
    DateTimeOffset At,
    double Score,
    double FitScore,
    double EngagementScore,
    string Tier,
    string? TraceParent,
    string? Reason = null);
