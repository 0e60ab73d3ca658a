using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ScoringPlatform.Scoring.Lifecycle;

/// <summary>
/// The lifecycle replayed up to an instant: the score state of the inputs so far (fed in time order), the status,
/// and where the clock is. Stored as JSON (checkpoint and head of <see cref="LeadLifecycle"/>); change it only through
/// <see cref="LeadTimeline"/>.
/// <para>
/// Between inputs nothing is added, so (negative engagement points never decay: validated) scores only fall, rule and
/// hot windows only expire, fit is constant: whether the lead qualifies, and its tier, can only go down. A drop is
/// found by one measurement at the end of the gap and, if there is one, a bisection to the tick (~63 measurements).
/// </para>
/// </summary>
public sealed class TimelineCursor
{
    private const long NoInstant = long.MinValue;

    public LeadScoreState Score { get; set; } = new();
    public LifecycleStatus Status { get; set; } = LifecycleStatus.Initial;

    /// <summary>The clock: everything up to and including this instant is judged (ticks; long.MinValue: nothing yet).</summary>
    public long AtTicks { get; set; } = NoInstant;

    /// <summary>The newest input applied (sort key), to tell an in-order input from a late one.</summary>
    public long LastInputTicks { get; set; } = NoInstant;
    public int LastInputRank { get; set; }
    public long LastInputSequence { get; set; }
    public string? LastInputId { get; set; }

    /// <summary>The lead is Disqualified by a hard rule (lifted when the profile no longer triggers one), not by sales.</summary>
    public bool DisqualifiedByHardRule { get; set; }

    /// <summary>The instant of the last transition emitted and how many came before it at that instant (transition ids).</summary>
    public long LastTransitionTicks { get; set; } = NoInstant;
    public int SameInstantOrdinal { get; set; }

    /// <summary>After sales recycled, rejected or disqualified the lead: it re-enters MQL only at an engagement event after this instant.</summary>
    public long? ReentryAfterTicks { get; set; }

    internal static TimelineCursor Create(ScoringModel model) => new() { Score = LeadScoreState.Create(model) };

    /// <summary>
    /// A copy that shares the score state, for moving the clock only: <see cref="AdvanceTo"/> reads the score state and
    /// never changes it, so there is no need to copy it (<see cref="Apply"/> on this copy would change the original).
    /// </summary>
    internal TimelineCursor Ahead() => (TimelineCursor)MemberwiseClone();

    internal TimelineCursor Clone() => LeadLifecycleCodec.Copy(this);

    internal bool IsAfterLastInput(LeadInput input) =>
        LastInputId is null || Compare(input.At.UtcTicks, input.Rank, input.Sequence, input.Id) > 0;

    private int Compare(long ticks, int rank, long sequence, string id)
    {
        var c = ticks.CompareTo(LastInputTicks);
        if (c != 0) return c;
        c = rank.CompareTo(LastInputRank);
        if (c != 0) return c;
        c = sequence.CompareTo(LastInputSequence);
        return c != 0 ? c : string.CompareOrdinal(id, LastInputId);
    }

    /// <summary>Applies one input at its instant (inputs in time order): time-driven transitions up to it, then the input, then the judgement.</summary>
    internal void Apply(LeadInput input, ScoringModel model, List<LifecycleTransition> output, List<SalesRefusal> refusals)
    {
        var t = input.At.UtcTicks;
        AdvanceTo(t, model, output);
        LastInputTicks = t;
        LastInputRank = input.Rank;
        LastInputSequence = input.Sequence;
        LastInputId = input.Id;

        switch (input)
        {
            case EngagementInput e:
                Score.Apply(e.Event, model);
                Judge(t, model, input, engagement: true, output);
                break;
            case ProfileInput p:
                Score.ApplyProfile(p.Profile, model, p.OccurredAt);
                Judge(t, model, input, engagement: false, output);
                break;
            case SalesInput s:
                Sales(s.Action, t, model, output, refusals);
                break;
        }
    }

    /// <summary>Emits what time alone causes in (AtTicks, until]: MQL exit by decay, tier drops, SLA breach.</summary>
    internal void AdvanceTo(long until, ScoringModel model, List<LifecycleTransition> output)
    {
        if (AtTicks == NoInstant || until <= AtTicks)
        {
            if (until > AtTicks) AtTicks = until;
            return;
        }

        while (Status.Stage == LifecycleStage.Mql)
        {
            var drop = NextDrop(AtTicks, until, model);
            var sla = Status.Sla is { MetAt: null, Breached: false } pending && pending.Deadline.UtcTicks <= until
                ? pending.Deadline.UtcTicks
                : long.MaxValue;
            if (drop is null && sla == long.MaxValue) break;
            if (drop is { } d && d <= sla)
            {
                AtTicks = d;
                StageOrTierChange(d, model, null, output);
            }
            else
            {
                AtTicks = Math.Max(AtTicks, sla);
                Breach(sla, model, output);
            }
        }

        AtTicks = until;
    }

    /// <summary>The next instant after <paramref name="after"/> at which time alone changes something, or null (nothing will).</summary>
    internal DateTimeOffset? NextDue(long after, ScoringModel model)
    {
        if (Status.Stage != LifecycleStage.Mql) return null;
        var horizon = ScoringEvent.LatestAccepted.UtcTicks;
        long? due = after < horizon ? NextDrop(after, horizon, model) : null;
        if (Status.Sla is { MetAt: null, Breached: false } sla && sla.Deadline.UtcTicks > after && (due is null || sla.Deadline.UtcTicks < due))
            due = sla.Deadline.UtcTicks;
        return due is { } d ? new DateTimeOffset(d, TimeSpan.Zero) : null;
    }

    /// <summary>The first tick in (from, until] at which the MQL level (qualifies, tier) is below the level at from; null if none.</summary>
    private long? NextDrop(long from, long until, ScoringModel model)
    {
        var level = Level(from, model);
        if (Level(until, model) >= level) return null;
        long lo = from, hi = until;
        while (hi - lo > 1)
        {
            var mid = lo + ((hi - lo) / 2);
            if (Level(mid, model) >= level) lo = mid;
            else hi = mid;
        }

        return hi;
    }

    private int Level(long t, ScoringModel model) => (int)Measure(t, model).Tier;

    private Snapshot Measure(long t, ScoringModel model) =>
        Scorer.Measure(Score, model, t, Status.Stage == LifecycleStage.Mql, Status.Stage == LifecycleStage.Mql ? Status.Tier : MqlTier.None);

    /// <summary>The judgement at an input's instant: hard rules, entry, exit, tier.</summary>
    private void Judge(long t, ScoringModel model, LeadInput input, bool engagement, List<LifecycleTransition> output)
    {
        var stage = Status.Stage;
        if (stage == LifecycleStage.Converted) return;
        var s = Measure(t, model);

        if (s.Disqualification >= 0)
        {
            if (stage == LifecycleStage.Disqualified) return;
            var rule = model.HardRules[s.Disqualification];
            Emit(TransitionKind.Disqualified, LifecycleStage.Disqualified, MqlTier.None, t, new TransitionCause(CauseKind.HardRule, rule.Id),
                input.Id, s, model, $"disqualified by hard rule '{rule.Id}': {rule.Reason}", output);
            Status = Status with { Sla = null };
            DisqualifiedByHardRule = true;
            ReentryAfterTicks = null;
            return;
        }

        if (DisqualifiedByHardRule && stage == LifecycleStage.Disqualified)
        {
            DisqualifiedByHardRule = false;
            Emit(TransitionKind.DisqualificationLifted, LifecycleStage.Lead, MqlTier.None, t, new TransitionCause(CauseKind.HardRule, "lifted"),
                input.Id, s, model, $"no hard rule disqualifies the lead any more (after profile update {input.Id})", output);
            stage = LifecycleStage.Lead;
            s = Measure(t, model);
        }

        switch (stage)
        {
            case LifecycleStage.Lead or LifecycleStage.Recycled or LifecycleStage.Disqualified:
                if (!s.IsMql) return;
                if (ReentryAfterTicks is { } after && !(engagement && t > after)) return;
                if (stage == LifecycleStage.Disqualified && ReentryAfterTicks is null) return;
                ReentryAfterTicks = null;
                var reactivation = Status.MqlEntries > 0;
                var (cause, why) = EntryCause(s, model);
                Emit(TransitionKind.MqlEntered, LifecycleStage.Mql, s.Tier, t, cause, input.Id, s, model,
                    why + $" at {input.Id}" + (reactivation ? " (reactivated)" : ""), output, reactivation);
                Status = Status with { MqlEntries = Status.MqlEntries + 1, Sla = StartSla(s.Tier, t, model, null) };
                StampSla(output);
                return;
            case LifecycleStage.Mql:
                StageOrTierChange(t, model, input.Id, output);
                return;
        }
    }

    /// <summary>Compares the level at t with the status: exit (Recycled) or a tier change, dated t.</summary>
    private void StageOrTierChange(long t, ScoringModel model, string? inputId, List<LifecycleTransition> output)
    {
        var s = Measure(t, model);
        var by = inputId is null ? "" : $" after {inputId}";
        if (!s.IsMql)
        {
            var q = model.Qualification;
            var c = CultureInfo.InvariantCulture;
            var (cause, why) = s.Total < model.ExitThreshold
                ? (new TransitionCause(CauseKind.Threshold, Scorer.ThresholdQualifier),
                    string.Format(c, "score {0:0.##} fell below the exit threshold {1}", s.Total, model.ExitThreshold))
                : (new TransitionCause(CauseKind.Engagement, "engagement"),
                    string.Format(c, "engagement {0:0.##} fell below the {1} an MQL needs to stay one (fit alone never holds a lead)", s.Engagement, q.MinEngagementToStay));
            Emit(TransitionKind.Recycled, LifecycleStage.Recycled, MqlTier.None, t, cause, inputId, s, model, why + by + ": back to nurture", output);
            Status = Status with { Sla = Status.Sla is { } sla && sla.MetAt is null && !sla.Breached ? null : Status.Sla };
            return;
        }

        if (s.Tier == Status.Tier) return;
        var reason = Scorer.TierReason(s, true, model);
        var tierCause = s.QualifyingRule >= 0
            ? new TransitionCause(CauseKind.QualificationRule, model.QualificationRules[s.QualifyingRule].Id)
            : new TransitionCause(CauseKind.Tier, s.Tier.ToString());
        var from = Status.Tier;
        Emit(TransitionKind.TierChanged, LifecycleStage.Mql, s.Tier, t, tierCause, inputId, s, model,
            $"{(s.Tier > from ? "promoted" : "demoted")} from {from} to {s.Tier}{by}: {reason}", output);
        if (s.Tier > from)
        {
            Status = Status with { Sla = StartSla(s.Tier, t, model, Status.Sla) };
            StampSla(output);
        }
        else if (model.Sla.For(s.Tier) is null && Status.Sla is { MetAt: null, Breached: false })
        {
            // Demoted to a tier without a follow-up window (MQL-Light: "nurture, no sales touch"): the pending deadline goes.
            Status = Status with { Sla = null };
        }
    }

    /// <summary>Records on the transition just emitted the follow-up deadline running after it.</summary>
    private void StampSla(List<LifecycleTransition> output)
    {
        if (Status.Sla is { MetAt: null, Breached: false } pending) output[^1] = output[^1] with { SlaDeadline = pending.Deadline };
    }

    private static (TransitionCause, string) EntryCause(in Snapshot s, ScoringModel model)
    {
        if (s.QualifyingRule >= 0)
        {
            var rule = model.QualificationRules[s.QualifyingRule];
            return (new TransitionCause(CauseKind.QualificationRule, rule.Id), $"qualification rule '{rule.Id}': {rule.Reason}");
        }

        return (new TransitionCause(CauseKind.Threshold, Scorer.ThresholdQualifier),
            string.Format(CultureInfo.InvariantCulture, "score {0:0.##} reached the enter threshold {1} ({2})",
                s.Total, model.EnterThreshold, Scorer.TierReason(s, false, model)));
    }

    /// <summary>A deadline from entry, or from promotion to a faster tier when that is earlier than the pending one.</summary>
    private static SlaStatus? StartSla(MqlTier tier, long t, ScoringModel model, SlaStatus? pending)
    {
        if (pending is { MetAt: not null } || pending is { Breached: true }) return pending;
        if (model.Sla.For(tier) is not { } window) return pending;
        var at = new DateTimeOffset(t, TimeSpan.Zero);
        var deadline = at + window;
        return pending is null || deadline < pending.Deadline ? new SlaStatus(tier, at, deadline, null, false) : pending;
    }

    private void Breach(long t, ScoringModel model, List<LifecycleTransition> output)
    {
        var sla = Status.Sla!;
        var s = Measure(t, model);
        Emit(TransitionKind.SlaBreached, LifecycleStage.Mql, Status.Tier, t, new TransitionCause(CauseKind.Sla, sla.Tier.ToString()), null, s, model,
            string.Format(CultureInfo.InvariantCulture, "no sales action within {0} h of {1:O} ({2})", (sla.Deadline - sla.StartedAt).TotalHours, sla.StartedAt, sla.Tier),
            output);
        Status = Status with { Sla = sla with { Breached = true } };
    }

    private void Sales(SalesAction action, long t, ScoringModel model, List<LifecycleTransition> output, List<SalesRefusal> refusals)
    {
        var at = new DateTimeOffset(t, TimeSpan.Zero);
        var decision = SalesDecisions.Decide(Status, action, at);
        if (!decision.Accepted)
        {
            refusals.Add(new SalesRefusal(action.IdempotencyKey, action.Kind, at, Status.Stage, decision.Reason));
            return;
        }

        var sla = Status.Sla is { MetAt: null } pending ? pending with { MetAt = at } : Status.Sla;
        Status = Status with { Sla = sla };
        var s = Measure(t, model);
        var tier = decision.To == LifecycleStage.Mql ? Status.Tier : MqlTier.None;
        Emit(decision.Kind, decision.To, tier, t, new TransitionCause(CauseKind.SalesAction, action.Kind.ToString().ToLowerInvariant()),
            action.IdempotencyKey, s, model, decision.Reason, output, actor: action.Actor, amount: action.Amount);
        if (decision.To is LifecycleStage.Recycled or LifecycleStage.Disqualified) ReentryAfterTicks = t;
        DisqualifiedByHardRule = false;
    }

    private void Emit(
        TransitionKind kind, LifecycleStage to, MqlTier toTier, long t, TransitionCause cause, string? inputId, in Snapshot s,
        ScoringModel model, string reason, List<LifecycleTransition> output, bool reactivation = false, string? actor = null, decimal? amount = null)
    {
        var at = new DateTimeOffset(t, TimeSpan.Zero);
        var from = Status;
        SameInstantOrdinal = t == LastTransitionTicks ? SameInstantOrdinal + 1 : 0;
        LastTransitionTicks = t;
        output.Add(new LifecycleTransition(
            TransitionId(kind, from.Stage, to, from.Tier, toTier, t, cause, SameInstantOrdinal), kind, from.Stage, to, from.Tier, toTier, at, cause, inputId,
            new LifecycleScores(Finite(s.Total), Finite(s.Fit), Finite(s.Engagement)), model.Id, model.Version, reason, reactivation, actor, amount));
        Status = kind == TransitionKind.SlaBreached
            ? Status
            : Status with { Stage = to, Tier = toTier, Since = at, Reason = reason };
    }

    private static double Finite(double x) => double.IsFinite(x) ? x : 0;

    /// <summary>
    /// What the transition is, not which input happened to trigger it: a late input at the same instant that re-runs
    /// the timeline yields the same ids (nothing retracted, nothing re-published) when the transitions are the same.
    /// The ordinal tells apart identical transitions at one instant (profile updates flipping a tier back and forth).
    /// </summary>
    internal static string TransitionId(
        TransitionKind kind, LifecycleStage from, LifecycleStage to, MqlTier fromTier, MqlTier toTier, long t, TransitionCause cause, int ordinal)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{kind}|{from}|{to}|{fromTier}|{toTier}|{t}|{cause.Kind}|{cause.Id}|{ordinal}");
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return Convert.ToHexStringLower(hash[..16]);
    }
}
