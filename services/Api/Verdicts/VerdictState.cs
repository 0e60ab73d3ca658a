using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.Scoring.Packing;

namespace ScoringPlatform.Api.Verdicts;

/// <summary>
/// One lead held in memory: the verdict-only part of its score view, packed into a byte array, and the earliest
/// as_of it answers exactly (<see cref="FloorTicks"/>, UTC ticks).
/// </summary>
public readonly record struct VerdictEntry(long FloorTicks, byte[] Data);

/// <summary>
/// Packs the part of a <see cref="LeadScoreView"/> that a verdict at or after the lead's clock reads, and unpacks it into a
/// view shell that the same code as the database path evaluates (<see cref="LeadTimeline.StatusAt(LeadLifecycle, DateTimeOffset, ScoringModel)"/>,
/// <see cref="Scorer.Evaluate(LeadScoreState, ScoringModel, DateTimeOffset, bool, MqlTier)"/>, <see cref="VerdictMapper"/>).
/// <para>
/// What is kept: the lifecycle head (cursor fields, status, SLA) and from its score state the decayed sums, counts and
/// newest event ids per rule, profile rule results, counters, and the counted events a qualification clause can still see;
/// from the view the event count, last event instant and linked identities. What is dropped: the checkpoint, the kept
/// inputs and transitions (only an as_of before the newest input replays them), the frequency buckets and profile
/// values (only new events read them), the head's last input id (only tested for null) and the history's event ids and
/// values (read only before the newest event). Rules with nothing counted are omitted and rebuilt empty.
/// </para>
/// <para>
/// Exact for as_of at or after <see cref="VerdictEntry.FloorTicks"/>: the head's clock and newest input, and the newest
/// scored event. There <see cref="LeadTimeline.StatusAt(LeadLifecycle, DateTimeOffset, ScoringModel)"/> only moves the head's
/// clock and every measurement it and the scorer make is at or after the newest event (the decayed sums, no history
/// replay). Earlier as_of, merged leads and states of another model are not packed: the database answers them.
/// </para>
/// </summary>
public static class VerdictState
{
    private const byte FormatVersion = 1;

    // A shared, never-replayed checkpoint: StatusAt reads the checkpoint only for an as_of before the head's newest input,
    // which the floor excludes, and its LastInputId is null, so no "earliest exact" floor is raised either.
    private static readonly TimelineCursor UnusedCheckpoint = new();

    /// <summary>The packed form of <paramref name="view"/>, or null when the memory form cannot answer it exactly (the database path does).</summary>
    public static VerdictEntry? TryPack(LeadScoreView view, ScoringModel model)
    {
        if (view.MergedInto is not null || view.ModelId != model.Id || view.ModelVersion != model.Version) return null;
        if (view.Lifecycle.Head is not { } head) return null;
        var score = head.Score;
        if (score.ModelId != model.Id || score.ModelVersion != model.Version || score.Rules.Count != model.EngagementRules.Count) return null;
        for (var r = 0; r < score.Rules.Count; r++)
        {
            if (score.Rules[r].RuleId != model.EngagementRules[r].Id) return null;
        }

        // The head's clock must not be before the newest scored event: a measurement between them would read the history.
        if (score.HasEvents && head.AtTicks < score.LatestEventTicks) return null;
        var floor = Math.Max(head.AtTicks, head.LastInputTicks);
        if (score.HasEvents) floor = Math.Max(floor, score.LatestEventTicks);

        var w = new PackedWriter(512);
        w.Byte(FormatVersion);
        // The view's own verdict fields.
        w.VarLong(view.EventCount);
        w.NullableTicks(view.LastEventAt);
        w.VarLong(view.LinkedIdentities.Count);
        foreach (var l in view.LinkedIdentities)
        {
            w.String(l.LinkedKey);
            w.String(l.LinkedId);
            w.Byte((byte)l.Kind);
            w.String(l.SourceEventId);
            w.Ticks(l.OccurredAt);
            w.VarLong(l.EventsCopied);
        }

        // The head cursor.
        w.VarLong(head.AtTicks);
        w.VarLong(head.LastInputTicks);
        w.VarLong(head.LastInputRank);
        w.VarLong(head.LastInputSequence);
        w.Byte((byte)((head.LastInputId is null ? 0 : 1) | (head.DisqualifiedByHardRule ? 2 : 0)));
        w.VarLong(head.LastTransitionTicks);
        w.VarLong(head.SameInstantOrdinal);
        w.NullableLong(head.ReentryAfterTicks);
        var status = head.Status;
        w.Byte((byte)status.Stage);
        w.Byte((byte)status.Tier);
        w.NullableTicks(status.Since);
        w.NullableString(status.Reason);
        w.VarLong(status.MqlEntries);
        if (status.Sla is { } sla)
        {
            w.Byte(1);
            w.Byte((byte)sla.Tier);
            w.Ticks(sla.StartedAt);
            w.Ticks(sla.Deadline);
            w.NullableTicks(sla.MetAt);
            w.Byte(sla.Breached ? (byte)1 : (byte)0);
        }
        else
        {
            w.Byte(0);
        }

        // The score state.
        w.Byte((byte)((score.HasEvents ? 1 : 0) | (score.IsMql ? 2 : 0)));
        w.VarLong(score.ReferenceTicks);
        w.VarLong(score.LatestEventTicks);
        w.VarLong(score.HistoryFloorTicks);
        w.Double(score.ProfileScore);
        w.VarLong(score.DisqualifyingHardRule);
        w.Bools(score.ProfileRuleMatched);
        w.Bools(score.QualificationFitHolds);
        w.NullableTicks(score.StageChangedAt);
        w.VarLong(score.MqlEntries);
        w.VarLong(score.CountedEvents);
        w.VarLong(score.FrequencyCappedEvents);
        w.VarLong(score.UnscoredEvents);
        w.NullableTicks(score.Profile.UpdatedAt);

        var used = 0;
        foreach (var acc in score.Rules) if (!IsEmpty(acc)) used++;
        w.VarLong(used);
        for (var r = 0; r < score.Rules.Count; r++)
        {
            var acc = score.Rules[r];
            if (IsEmpty(acc)) continue;
            w.VarLong(r);
            LeadLifecycleCodec.WriteRuleNumbers(w, acc);
            w.VarLong(acc.Latest.Count);
            foreach (var e in acc.Latest)
            {
                w.VarLong(e.Ticks);
                w.String(e.EventId);
            }
        }

        // Counted events a qualification clause can still count at or after the floor: those inside the widest window
        // before the newest event (older ones are outside every window from there on).
        var window = QualificationHorizon(model);
        var from = window is { } span ? score.LatestEventTicks - span.Ticks : long.MaxValue;
        var kept = 0;
        foreach (var e in score.History) if (e.Ticks >= from) kept++;
        w.VarLong(kept);
        foreach (var e in score.History)
        {
            if (e.Ticks < from) continue;
            w.VarLong(e.Rule);
            w.VarLong(e.Ticks);
        }

        return new VerdictEntry(floor, w.ToArray());
    }

    /// <summary>A view shell holding what <see cref="TryPack"/> kept, for the database path's own evaluation code.</summary>
    public static LeadScoreView Unpack(string leadId, byte[] data, ScoringModel model)
    {
        var r = new PackedReader(data);
        if (r.Byte() != FormatVersion) throw new InvalidDataException("unknown verdict state format");
        var view = new LeadScoreView { Id = leadId, ModelId = model.Id, ModelVersion = model.Version, EventCount = r.VarLong(), LastEventAt = r.NullableTicks() };
        var links = (int)r.VarLong();
        for (var i = 0; i < links; i++)
        {
            view.LinkedIdentities.Add(new IdentityLinked(r.String(), r.String(), (IdentityKind)r.Byte(), r.String(), r.Ticks(), (int)r.VarLong()));
        }

        var head = new TimelineCursor
        {
            AtTicks = r.VarLong(),
            LastInputTicks = r.VarLong(),
            LastInputRank = (int)r.VarLong(),
            LastInputSequence = r.VarLong(),
        };
        var cursorFlags = r.Byte();
        head.LastInputId = (cursorFlags & 1) != 0 ? "" : null;
        head.DisqualifiedByHardRule = (cursorFlags & 2) != 0;
        head.LastTransitionTicks = r.VarLong();
        head.SameInstantOrdinal = (int)r.VarLong();
        head.ReentryAfterTicks = r.NullableLong();
        var stage = (LifecycleStage)r.Byte();
        var tier = (MqlTier)r.Byte();
        var since = r.NullableTicks();
        var reason = r.NullableString();
        var mqlEntries = (int)r.VarLong();
        SlaStatus? sla = r.Byte() == 1 ? new SlaStatus((MqlTier)r.Byte(), r.Ticks(), r.Ticks(), r.NullableTicks(), r.Byte() == 1) : null;
        head.Status = new LifecycleStatus(stage, tier, since, reason, mqlEntries, sla);

        var scoreFlags = r.Byte();
        var score = new LeadScoreState
        {
            ModelId = model.Id,
            ModelVersion = model.Version,
            HasEvents = (scoreFlags & 1) != 0,
            IsMql = (scoreFlags & 2) != 0,
            ReferenceTicks = r.VarLong(),
            LatestEventTicks = r.VarLong(),
            HistoryFloorTicks = r.VarLong(),
            ProfileScore = r.Double(),
            DisqualifyingHardRule = (int)r.VarLong(),
            ProfileRuleMatched = r.Bools(),
            QualificationFitHolds = r.Bools(),
            StageChangedAt = r.NullableTicks(),
            MqlEntries = (int)r.VarLong(),
            CountedEvents = r.VarLong(),
            FrequencyCappedEvents = r.VarLong(),
            UnscoredEvents = r.VarLong(),
        };
        score.Profile.UpdatedAt = r.NullableTicks();

        var rules = new List<RuleAccumulator>(model.EngagementRules.Count);
        foreach (var rule in model.EngagementRules) rules.Add(new RuleAccumulator { RuleId = rule.Id });
        var used = (int)r.VarLong();
        for (var i = 0; i < used; i++)
        {
            var acc = rules[(int)r.VarLong()];
            LeadLifecycleCodec.ReadRuleNumbers(ref r, acc);
            var latest = (int)r.VarLong();
            for (var j = 0; j < latest; j++) acc.Latest.Add(new EventRef { Ticks = r.VarLong(), EventId = r.String() });
        }

        score.Rules = rules;
        var kept = (int)r.VarLong();
        var history = new List<CountedEvent>(kept);
        for (var i = 0; i < kept; i++) history.Add(new CountedEvent { Rule = (int)r.VarLong(), Ticks = r.VarLong(), EventId = "" });
        score.History = history;
        head.Score = score;
        view.Lifecycle = new LeadLifecycle { Checkpoint = UnusedCheckpoint, Head = head, EvaluatedUntilTicks = head.AtTicks };
        return view;
    }

    /// <summary>The widest qualification clause window of the model (null: no clause, no counted event is needed).</summary>
    private static TimeSpan? QualificationHorizon(ScoringModel model)
    {
        TimeSpan? widest = null;
        foreach (var rule in model.QualificationRules)
        {
            foreach (var clause in rule.Events)
            {
                if (widest is null || clause.Window > widest) widest = clause.Window;
            }
        }

        return widest;
    }

    private static bool IsEmpty(RuleAccumulator a) =>
        a.Total == 0 && a.Count == 0 && a.Base == 0 && a.Raw == 0 && a.RawBase == 0 && a.BaseCount == 0 && a.BaseLastTicks == 0 && a.Latest.Count == 0;
}
