using System.Text.Json.Serialization;
using ScoringPlatform.Leads;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// The per-lead document maintained by <see cref="LeadScoreProjection"/> (id = lead id).
/// <para>
/// <see cref="Lifecycle"/> is the whole of the lead's state: the score state (decay accumulators, fed in time
/// order) and the lifecycle timeline, both from the pure library. Verdicts are computed from it for any instant.
/// The other fields are denormalised from it for queries (stage lists, SLA queues) and are current up to
/// <see cref="EvaluatedUntil"/>: the newest event, or the scheduler's last wake for this lead.
/// </para>
/// </summary>
public sealed class LeadScoreView
{
    /// <summary>
    /// The document's shape. Projections rebuilds the views at start when stored ones have another layout
    /// (or another model), like it does for a model change.
    /// </summary>
    /// <remarks>3: <see cref="Lifecycle"/> packed (<see cref="PackedLifecycleJsonConverter"/>); 2: as a JSON object.</remarks>
    public const int CurrentLayout = 3;

    public string Id { get; set; } = "";
    public int Layout { get; set; } = CurrentLayout;
    /// <summary>Stored packed, as one base64 string (<see cref="PackedLifecycleJsonConverter"/>): read it through this type, not with JSON paths.</summary>
    [JsonConverter(typeof(PackedLifecycleJsonConverter))]
    public LeadLifecycle Lifecycle { get; set; } = new();
    public string ModelId { get; set; } = "";
    public int ModelVersion { get; set; }

    /// <summary>The version of the last event of the lead's stream this document has applied.</summary>
    public long StreamVersion { get; set; }

    /// <summary>
    /// The event store sequence of the last event this document applied: the read model's change feed. The projection
    /// writes pages in sequence order, one at a time, so a reader that keeps the highest value it has seen finds every
    /// later change with <c>last_sequence &gt; seen</c> (a rebuild rewrites from the start: readers start over on
    /// <see cref="LeadScoreProjection.ChangesChannel"/>'s <c>reset</c>).
    /// </summary>
    public long LastSequence { get; set; }

    /// <summary>Engagement and profile events counted (sales feedback and clock ticks are not).</summary>
    public long EventCount { get; set; }
    public DateTimeOffset? FirstEventAt { get; set; }
    public DateTimeOffset? LastEventAt { get; set; }

    // Denormalised lifecycle status at EvaluatedUntil (queries filter and order by these).
    public LifecycleStage Stage { get; set; }
    public MqlTier Tier { get; set; }
    public DateTimeOffset? StageSince { get; set; }
    public string? StageReason { get; set; }
    public int MqlEntries { get; set; }

    /// <summary>When the lead last entered MQL (newest-MQLs-first ordering).</summary>
    public DateTimeOffset? MqlEnteredAt { get; set; }

    /// <summary>The follow-up deadline of the current MQL episode while no sales action met it and it is not breached.</summary>
    public DateTimeOffset? SlaDueAt { get; set; }
    public SlaStatus? Sla { get; set; }
    public DateTimeOffset? EvaluatedUntil { get; set; }

    /// <summary>When the scheduler wakes this lead next (null: nothing is due without a new input).</summary>
    public DateTimeOffset? NextDueAt { get; set; }

    /// <summary>Identities linked into this lead (anonymous ids, merged lead ids), in the order they were linked.</summary>
    public List<IdentityLinked> LinkedIdentities { get; set; } = [];

    /// <summary>Set when this stream's identity was linked into another lead (its events count there now).</summary>
    public string? MergedInto { get; set; }

    /// <summary>Sales actions the lifecycle refused when it applied them (the Api checks first; this records a lost race).</summary>
    public List<SalesRefusal> RecentRefusals { get; set; } = [];

    /// <summary>Transitions and retractions the projection's side-effect step has yet to write (this page only; never stored).</summary>
    [JsonIgnore]
    public List<PendingMessages> Pending { get; } = [];

    /// <summary>The schedule row must be rewritten (this page only; never stored).</summary>
    [JsonIgnore]
    public bool ScheduleChanged { get; set; }

    /// <summary>The score state after every kept input (the lifecycle's head).</summary>
    [JsonIgnore]
    public LeadScoreState State => Lifecycle.Head?.Score ?? throw new InvalidOperationException($"lead '{Id}' has no lifecycle state");

    /// <summary>Copies the lifecycle status into the query fields.</summary>
    public void Denormalise(LifecycleStatus status, DateTimeOffset? evaluatedUntil, DateTimeOffset? nextDueAt)
    {
        Stage = status.Stage;
        Tier = status.Stage == LifecycleStage.Mql ? status.Tier : MqlTier.None;
        StageSince = status.Since;
        StageReason = status.Reason;
        MqlEntries = status.MqlEntries;
        Sla = status.Sla;
        SlaDueAt = status.Stage == LifecycleStage.Mql && status.Sla is { MetAt: null, Breached: false } pending ? pending.Deadline : null;
        EvaluatedUntil = evaluatedUntil;
        NextDueAt = nextDueAt;
    }
}
