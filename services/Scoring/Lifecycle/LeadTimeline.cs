namespace ScoringPlatform.Scoring.Lifecycle;

/// <summary>The transitions of a whole history up to an instant, the status then, refused sales actions, and when time next changes something.</summary>
public sealed record TimelineResult(
    IReadOnlyList<LifecycleTransition> Transitions,
    LifecycleStatus Status,
    IReadOnlyList<SalesRefusal> Refusals,
    DateTimeOffset? NextDueAt);

/// <summary>
/// What recording one input (or moving the clock) changed: transitions to publish, previously published transitions
/// that no longer hold (a late input rewrote history after them; publish a retraction), refusals, and the instant
/// the scheduler should wake this lead next (null: nothing is due without a new input), and the status at the clock
/// reached (<see cref="LeadLifecycle.EvaluatedUntilTicks"/>: time-driven changes up to it included).
/// </summary>
public sealed record LifecycleUpdate(
    IReadOnlyList<LifecycleTransition> Emitted,
    IReadOnlyList<LifecycleTransition> Superseded,
    IReadOnlyList<SalesRefusal> Refusals,
    DateTimeOffset? NextDueAt,
    LifecycleStatus Status);

/// <summary>
/// A lead's lifecycle as a function of its history and time alone. Pure: no I/O, no clock; instants are passed in.
/// <para>
/// <b>From scratch</b> (<see cref="Replay"/>, <see cref="StatusAt(ScoringModel, IEnumerable{LeadInput}, DateTimeOffset)"/>,
/// <see cref="NextDueAfter"/>): the inputs are sorted by (instant, profile/engagement/sales, id), duplicates dropped,
/// and replayed into a fresh score state; the result does not depend on arrival order. Exact, O(inputs) measurements
/// plus ~63 per transition that time alone causes.
/// </para>
/// <para>
/// <b>Incremental</b> (<see cref="Record"/>, <see cref="AdvanceTo"/>, <see cref="NextDue"/>) over a stored
/// <see cref="LeadLifecycle"/>: an input at or after the newest one continues from the head (O(1) measurements); a
/// late input re-evaluates the timeline from the checkpoint over the kept inputs (at most 2 × maxEventsPerLead) and
/// reports which published transitions it superseded. Exact while the late input is not older than the checkpoint;
/// see <see cref="LeadLifecycle"/> for the bound.
/// </para>
/// </summary>
public static class LeadTimeline
{
    /// <summary>Every transition of the history up to and including <paramref name="until"/> (inputs after it are ignored).</summary>
    public static TimelineResult Replay(ScoringModel model, IEnumerable<LeadInput> inputs, DateTimeOffset until)
    {
        var cursor = TimelineCursor.Create(model);
        var transitions = new List<LifecycleTransition>();
        var refusals = new List<SalesRefusal>();
        foreach (var input in Ordered(inputs))
        {
            if (input.At > until) break;
            cursor.Apply(input, model, transitions, refusals);
        }

        cursor.AdvanceTo(until.UtcTicks, model, transitions);
        return new TimelineResult(transitions, cursor.Status, refusals, cursor.NextDue(until.UtcTicks, model));
    }

    /// <summary>The stage and tier (hysteresis included), SLA and reason at <paramref name="asOf"/>, from the history up to it.</summary>
    public static LifecycleStatus StatusAt(ScoringModel model, IEnumerable<LeadInput> inputs, DateTimeOffset asOf) =>
        Replay(model, inputs, asOf).Status;

    /// <summary>
    /// The next instant after <paramref name="after"/> at which, absent new inputs, the lifecycle changes by itself:
    /// the decay exit, a tier drop or the SLA deadline. Null: nothing will.
    /// </summary>
    public static DateTimeOffset? NextDueAfter(ScoringModel model, IEnumerable<LeadInput> inputs, DateTimeOffset after) =>
        Replay(model, inputs, after).NextDueAt;

    /// <summary>Inputs in timeline order, each (kind, id) once.</summary>
    public static IReadOnlyList<LeadInput> Ordered(IEnumerable<LeadInput> inputs)
    {
        var seen = new HashSet<(int, string)>();
        var list = new List<LeadInput>();
        foreach (var input in inputs)
        {
            if (seen.Add((input.Rank, input.Id))) list.Add(input);
        }

        list.Sort(LeadInput.Compare);
        return list;
    }

    /// <summary>
    /// Records one input (in any order) and brings the timeline to the later of its instant and the clock already
    /// reached. Returns the transitions to publish, those superseded, refusals, and the next due instant.
    /// </summary>
    public static LifecycleUpdate Record(LeadLifecycle lead, LeadInput input, ScoringModel model)
    {
        lead.EnsureStarted(model);
        var refusals = new List<SalesRefusal>();
        var key = (input.Rank, input.Id);
        if (lead.Inputs.Any(i => (i.Rank, i.Id) == key)) return Unchanged(lead, model);

        var until = Math.Max(lead.EvaluatedUntilTicks, input.At.UtcTicks);
        var head = lead.Head!;
        List<LifecycleTransition> kept;
        var fresh = new List<LifecycleTransition>();
        if (head.IsAfterLastInput(input))
        {
            var from = head.AtTicks;
            lead.Inputs.Add(input);
            // Transitions at or before the head's clock stand; those after it were time-driven and are recomputed.
            kept = lead.Transitions.Where(x => x.At.UtcTicks <= from).ToList();
            head.Apply(input, model, fresh, refusals);
        }
        else
        {
            InsertOrdered(lead.Inputs, input);
            var cursor = lead.Checkpoint!.Clone();
            if (!cursor.IsAfterLastInput(input))
            {
                // Older than the checkpoint: the bounded approximation. Scores take it as a late event (the score state
                // handles those), the lifecycle before the checkpoint is not revised, a sales action is refused.
                lead.Inputs.Remove(input);
                FoldBeforeCheckpoint(lead.Checkpoint!, input, model, refusals);
                cursor = lead.Checkpoint!.Clone();
            }

            kept = [];
            foreach (var i in lead.Inputs) cursor.Apply(i, model, fresh, refusals);
            lead.Head = cursor;
            head = cursor;
        }

        // The head stays at the newest input; time-driven transitions after it are computed on a copy.
        var ahead = until > head.AtTicks ? head.Ahead() : head;
        if (ahead != head) ahead.AdvanceTo(until, model, fresh);
        var update = Diff(lead, kept, fresh, refusals, model, ahead);
        lead.EvaluatedUntilTicks = until;
        lead.Compact(model);
        return update;
    }

    /// <summary>Moves the clock to <paramref name="now"/> (the scheduler woke at the due instant): what time alone caused since.</summary>
    public static LifecycleUpdate AdvanceTo(LeadLifecycle lead, DateTimeOffset now, ScoringModel model)
    {
        lead.EnsureStarted(model);
        var until = Math.Max(lead.EvaluatedUntilTicks, now.UtcTicks);
        var head = lead.Head!;
        var ahead = head.Ahead();
        var fresh = new List<LifecycleTransition>();
        ahead.AdvanceTo(until, model, fresh);
        var kept = lead.Transitions.Where(x => x.At.UtcTicks <= head.AtTicks).ToList();
        var update = Diff(lead, kept, fresh, [], model, ahead);
        lead.EvaluatedUntilTicks = until;
        return update;
    }

    /// <summary>When the scheduler should wake this lead: the next instant after the clock reached at which time alone changes its lifecycle.</summary>
    public static DateTimeOffset? NextDue(LeadLifecycle lead, ScoringModel model)
    {
        lead.EnsureStarted(model);
        var ahead = lead.Head!.Ahead();
        ahead.AdvanceTo(lead.EvaluatedUntilTicks, model, []);
        return ahead.NextDue(Math.Max(lead.EvaluatedUntilTicks, ahead.AtTicks), model);
    }

    /// <summary>The status at <paramref name="asOf"/> (at or after <see cref="LeadLifecycle.EarliestExactAsOf"/>): checkpoint + kept inputs up to it.</summary>
    public static LifecycleStatus StatusAt(LeadLifecycle lead, DateTimeOffset asOf, ScoringModel model)
    {
        lead.EnsureStarted(model);
        if (lead.EarliestExactAsOf is { } floor && asOf < floor)
            throw new AsOfOutOfRangeException(asOf, floor, model.HistorySize);
        // At or after the newest input (the usual verdict) the head already holds every input: only the clock moves.
        var head = lead.Head!;
        TimelineCursor cursor;
        if (head.LastInputId is null || asOf.UtcTicks >= head.LastInputTicks)
        {
            cursor = head.Ahead();
        }
        else
        {
            cursor = lead.Checkpoint!.Clone();
            foreach (var input in lead.Inputs)
            {
                if (input.At > asOf) break;
                cursor.Apply(input, model, [], []);
            }
        }

        cursor.AdvanceTo(asOf.UtcTicks, model, []);
        return cursor.Status;
    }

    private static LifecycleUpdate Diff(
        LeadLifecycle lead, List<LifecycleTransition> kept, List<LifecycleTransition> fresh, List<SalesRefusal> refusals,
        ScoringModel model, TimelineCursor ahead)
    {
        var next = new List<LifecycleTransition>(kept.Count + fresh.Count);
        next.AddRange(kept);
        next.AddRange(fresh);
        var before = lead.Transitions.Select(x => x.Id).ToHashSet(StringComparer.Ordinal);
        var after = next.Select(x => x.Id).ToHashSet(StringComparer.Ordinal);
        var emitted = next.Where(x => !before.Contains(x.Id)).ToList();
        var superseded = lead.Transitions.Where(x => !after.Contains(x.Id)).ToList();
        lead.Transitions = next;
        return new LifecycleUpdate(emitted, superseded, refusals, ahead.NextDue(ahead.AtTicks, model), ahead.Status);
    }

    private static LifecycleUpdate Unchanged(LeadLifecycle lead, ScoringModel model)
    {
        var ahead = lead.Head!.Ahead();
        ahead.AdvanceTo(lead.EvaluatedUntilTicks, model, []);
        return new LifecycleUpdate([], [], [], ahead.NextDue(Math.Max(lead.EvaluatedUntilTicks, ahead.AtTicks), model), ahead.Status);
    }

    private static void InsertOrdered(List<LeadInput> inputs, LeadInput input)
    {
        var i = inputs.FindIndex(x => LeadInput.Compare(x, input) > 0);
        if (i < 0) inputs.Add(input);
        else inputs.Insert(i, input);
    }

    private static void FoldBeforeCheckpoint(TimelineCursor checkpoint, LeadInput input, ScoringModel model, List<SalesRefusal> refusals)
    {
        switch (input)
        {
            case EngagementInput e:
                checkpoint.Score.Apply(e.Event, model);
                break;
            case ProfileInput p:
                checkpoint.Score.ApplyProfile(p.Profile, model, p.OccurredAt);
                break;
            case SalesInput s:
                refusals.Add(new SalesRefusal(s.Action.IdempotencyKey, s.Action.Kind, s.Action.At, checkpoint.Status.Stage,
                    $"the action is dated before {new DateTimeOffset(checkpoint.LastInputTicks, TimeSpan.Zero):O}, the oldest instant this lead's kept history can revise"));
                break;
        }
    }
}
