using System.Text.Json.Serialization;

namespace ScoringPlatform.Scoring.Lifecycle;

/// <summary>
/// What a projection stores per lead for the lifecycle (a JSON document: public get/set); change it only through
/// <see cref="LeadTimeline.Record"/> and <see cref="LeadTimeline.AdvanceTo"/>.
/// <para>
/// <see cref="Checkpoint"/>: the timeline replayed through the inputs folded out of the kept history;
/// <see cref="Inputs"/>: the inputs after it, in timeline order (fewer than 2 × maxEventsPerLead: the oldest half is
/// folded into the checkpoint when that is reached, amortised O(1)); <see cref="Head"/>: the timeline after all kept
/// inputs; <see cref="Transitions"/>: those published after the checkpoint; <see cref="EvaluatedUntilTicks"/>: the
/// clock reached (newest input, or the scheduler's last wake).
/// </para>
/// <para>
/// Exact: any arrival order of inputs not older than the checkpoint gives the transitions a from-scratch replay gives.
/// Bounded: an input older than the checkpoint is folded into the checkpoint's score state as a late event (the score
/// state's own approximation), the lifecycle before the checkpoint is never revised, and a sales action that old is
/// refused; a duplicate that old is not recognised (the event store's unique event id deduplicates first).
/// </para>
/// </summary>
public sealed class LeadLifecycle
{
    public TimelineCursor? Checkpoint { get; set; }
    public TimelineCursor? Head { get; set; }
    public List<LeadInput> Inputs { get; set; } = [];
    public List<LifecycleTransition> Transitions { get; set; } = [];
    public long EvaluatedUntilTicks { get; set; } = long.MinValue;

    /// <summary>The lifecycle after the newest input (time-driven changes since are in <see cref="LeadTimeline.StatusAt(LeadLifecycle, DateTimeOffset, ScoringModel)"/>).</summary>
    [JsonIgnore]
    public LifecycleStatus Status => Head?.Status ?? LifecycleStatus.Initial;

    /// <summary>The earliest as_of the kept history answers exactly (null: any).</summary>
    [JsonIgnore]
    public DateTimeOffset? EarliestExactAsOf =>
        Checkpoint is { LastInputId: not null } c ? new DateTimeOffset(c.LastInputTicks, TimeSpan.Zero) : null;

    public static LeadLifecycle Create(ScoringModel model)
    {
        var lead = new LeadLifecycle();
        lead.EnsureStarted(model);
        return lead;
    }

    internal void EnsureStarted(ScoringModel model)
    {
        Checkpoint ??= TimelineCursor.Create(model);
        Head ??= Checkpoint.Clone();
        Head.Score.EnsureModel(model);
    }

    /// <summary>
    /// Folds the oldest half of the kept inputs into the checkpoint once 2 × maxEventsPerLead are kept. In place, as a late
    /// input older than the checkpoint is folded: the checkpoint is this lead's own (the head and every replay start from
    /// a copy of it), and copying it first cost more than the replay, about half of an in-order Record (issue 11). A
    /// failure midway leaves this instance unusable; the projection then re-runs the page from the stored view.
    /// </summary>
    internal void Compact(ScoringModel model)
    {
        var keep = model.HistorySize;
        if (Inputs.Count < 2 * keep) return;
        var checkpoint = Checkpoint!;
        var replayed = new List<LifecycleTransition>();
        var refused = new List<SalesRefusal>();
        for (var i = 0; i < keep; i++) checkpoint.Apply(Inputs[i], model, replayed, refused);
        Inputs.RemoveRange(0, keep);
        Transitions.RemoveAll(x => x.At.UtcTicks <= checkpoint.AtTicks);
    }
}
