using System.Globalization;

namespace ScoringPlatform.Scoring;

/// <summary>Verdicts: pure functions of (state, model, asOf). O(rules + groups) at or after the newest event, O(history) before it.</summary>
public static class Scorer
{
    /// <summary><see cref="Verdict.QualifiedBy"/> when the points (threshold, engagement minimums) qualified the lead.</summary>
    public const string ThresholdQualifier = "threshold";

    private const int StackLimit = 128;
    private static readonly double Ln2 = Math.Log(2);

    private static readonly string[] MatrixCells =
        [.. from grade in "ABCD" from band in "1234" select string.Concat(grade, band)];

    private static readonly Comparison<RuleContribution> ByImpact =
        static (a, b) => Math.Abs(b.Contribution).CompareTo(Math.Abs(a.Contribution));

    /// <summary>The full verdict with explanation. Throws <see cref="AsOfOutOfRangeException"/> for an asOf the bounded history cannot score exactly.</summary>
    public static Verdict Evaluate(LeadScoreState state, ScoringModel model, DateTimeOffset asOf) =>
        Evaluate(state, model, asOf, state.IsMql, MqlTier.None);

    /// <summary>
    /// The verdict judged against a given prior stage: <paramref name="wasMql"/> and <paramref name="priorTier"/> are
    /// the lead's stage and tier just before <paramref name="asOf"/> (e.g. from <c>LeadTimeline.StatusAt</c>), so a past
    /// as_of uses the stage of that time, not today's, and tier hysteresis applies.
    /// </summary>
    public static Verdict Evaluate(LeadScoreState state, ScoringModel model, DateTimeOffset asOf, bool wasMql, MqlTier priorTier)
    {
        state.EnsureModel(model);
        int n = model.EngagementRules.Count, g = model.Groups.Count;
        Span<double> value = n <= StackLimit ? stackalloc double[n] : new double[n];
        Span<double> raw = n <= StackLimit ? stackalloc double[n] : new double[n];
        Span<int> count = n <= StackLimit ? stackalloc int[n] : new int[n];
        Span<long> last = n <= StackLimit ? stackalloc long[n] : new long[n];
        Span<double> uncapped = g <= StackLimit ? stackalloc double[g] : new double[g];
        Span<double> capped = g <= StackLimit ? stackalloc double[g] : new double[g];
        var asOfTicks = asOf.UtcTicks;
        var s = Compute(state, model, asOfTicks, value, raw, count, last, uncapped, capped, wasMql, priorTier);
        var pastPath = state.HasEvents && asOfTicks < state.LatestEventTicks;

        var contributions = new List<RuleContribution>(n + model.ProfileRules.Count);
        for (var i = 0; i < model.ProfileRules.Count; i++)
        {
            if (i >= state.ProfileRuleMatched.Count || !state.ProfileRuleMatched[i]) continue;
            var rule = model.ProfileRules[i];
            contributions.Add(new RuleContribution(
                rule.Id, rule.IsNegative ? RuleKind.Negative : RuleKind.Fit, null, rule.Points, rule.Points, rule.Points, 1,
                state.Profile.UpdatedAt, []));
        }

        for (var r = 0; r < n; r++)
        {
            if (count[r] == 0) continue;
            var rule = model.EngagementRules[r];
            contributions.Add(new RuleContribution(
                rule.Id, RuleKind.Engagement, rule.Group, rule.Points * count[r], raw[r], value[r], count[r],
                last[r] > 0 ? new DateTimeOffset(last[r], TimeSpan.Zero) : null,
                TopEventIds(state, r, asOfTicks, pastPath)));
        }

        contributions.Sort(ByImpact);

        var groups = new GroupScore[g];
        for (var i = 0; i < g; i++)
        {
            var group = model.Groups[i];
            groups[i] = new GroupScore(group.Id, uncapped[i], capped[i], group.Cap, group.HalfLife);
        }

        Disqualification? disqualification = null;
        if (s.Disqualification >= 0)
        {
            var hard = model.HardRules[s.Disqualification];
            disqualification = new Disqualification(hard.Id, hard.Reason);
        }

        return new Verdict(
            asOf, s.Fit, s.Engagement, s.Total, s.IsMql, s.Tier, TierReason(s, wasMql, model), s.Grade, s.Band,
            MatrixCells[(s.Grade - 'A') * 4 + s.Band - 1], model.Id, model.Version, model.EnterThreshold, model.ExitThreshold,
            contributions, groups, disqualification, DropInstant(model, asOfTicks, s, capped),
            state.CountedEvents, state.FrequencyCappedEvents, state.UnscoredEvents,
            !s.IsMql ? null : s.QualifyingRule >= 0 ? model.QualificationRules[s.QualifyingRule].Id : ThresholdQualifier);
    }

    /// <summary>Total score only (no explanation, no allocation).</summary>
    public static double TotalScore(LeadScoreState state, ScoringModel model, DateTimeOffset asOf) => Measure(state, model, asOf).Total;

    /// <summary>The instant the score falls below the exit threshold if nothing else happens after asOf.</summary>
    public static DateTimeOffset? DropsBelowExitAt(LeadScoreState state, ScoringModel model, DateTimeOffset asOf)
    {
        state.EnsureModel(model);
        int n = model.EngagementRules.Count, g = model.Groups.Count;
        Span<double> value = n <= StackLimit ? stackalloc double[n] : new double[n];
        Span<int> count = n <= StackLimit ? stackalloc int[n] : new int[n];
        Span<long> last = n <= StackLimit ? stackalloc long[n] : new long[n];
        Span<double> uncapped = g <= StackLimit ? stackalloc double[g] : new double[g];
        Span<double> capped = g <= StackLimit ? stackalloc double[g] : new double[g];
        var s = Compute(state, model, asOf.UtcTicks, value, [], count, last, uncapped, capped, state.IsMql, MqlTier.None);
        return DropInstant(model, asOf.UtcTicks, s, capped);
    }

    internal static Snapshot Measure(LeadScoreState state, ScoringModel model, DateTimeOffset asOf) =>
        Measure(state, model, asOf.UtcTicks, state.IsMql, MqlTier.None);

    /// <summary>Scores, stage and tier at asOf judged against a prior stage (hysteresis for MQL and tiers); no allocation.</summary>
    internal static Snapshot Measure(LeadScoreState state, ScoringModel model, long asOf, bool wasMql, MqlTier priorTier)
    {
        state.EnsureModel(model);
        int n = model.EngagementRules.Count, g = model.Groups.Count;
        Span<double> value = n <= StackLimit ? stackalloc double[n] : new double[n];
        Span<int> count = n <= StackLimit ? stackalloc int[n] : new int[n];
        Span<long> last = n <= StackLimit ? stackalloc long[n] : new long[n];
        Span<double> uncapped = g <= StackLimit ? stackalloc double[g] : new double[g];
        Span<double> capped = g <= StackLimit ? stackalloc double[g] : new double[g];
        return Compute(state, model, asOf, value, [], count, last, uncapped, capped, wasMql, priorTier);
    }

    private static Snapshot Compute(
        LeadScoreState state, ScoringModel model, long asOf,
        Span<double> value, Span<double> raw, Span<int> count, Span<long> last, Span<double> uncapped, Span<double> capped,
        bool wasMql, MqlTier priorTier)
    {
        var rules = state.Rules;
        var groupCount = model.Groups.Count;
        Span<double> factor = groupCount <= StackLimit ? stackalloc double[groupCount] : new double[groupCount];
        Span<double> exponent = groupCount <= StackLimit ? stackalloc double[groupCount] : new double[groupCount];
        var sameDecay = model.GroupSameDecayAs;
        for (var g = 0; g < groupCount; g++)
        {
            var inv = model.GroupInvHalfLifeTicks[g];
            exponent[g] = inv == 0 ? 0 : (state.ReferenceTicks - asOf) * inv;
            factor[g] = inv == 0 ? 1 : sameDecay[g] < g ? factor[sameDecay[g]] : double.Exp2(exponent[g]);
            uncapped[g] = 0;
            capped[g] = 0;
        }

        // Raw (uncapped) values only for explanations: Measure and the drop instant pass an empty span.
        var explain = !raw.IsEmpty;
        if (!state.HasEvents || asOf >= state.LatestEventTicks)
        {
            // asOf is at or after the reference, so every factor is in [0, 1].
            for (var r = 0; r < value.Length; r++)
            {
                var acc = rules[r];
                var f = factor[model.RuleGroupIndex[r]];
                value[r] = acc.Total * f;
                if (explain) raw[r] = acc.Raw * f;
                count[r] = acc.Count;
                last[r] = acc.Latest.Count > 0 ? acc.Latest[0].Ticks : 0;
            }
        }
        else
        {
            if (asOf < state.HistoryFloorTicks)
            {
                throw new AsOfOutOfRangeException(
                    new DateTimeOffset(asOf, TimeSpan.Zero), state.EarliestExactAsOf!.Value, model.HistorySize);
            }

            for (var r = 0; r < value.Length; r++)
            {
                var acc = rules[r];
                var g = model.RuleGroupIndex[r];
                value[r] = Scale(acc.Base, factor[g], exponent[g]);
                if (explain) raw[r] = Scale(acc.RawBase, factor[g], exponent[g]);
                count[r] = acc.BaseCount;
                last[r] = acc.BaseCount > 0 ? acc.BaseLastTicks : 0;
            }

            foreach (var e in state.History)
            {
                if (e.Ticks > asOf) break;
                var inv = model.RuleInvHalfLifeTicks[e.Rule];
                var d = inv == 0 ? 1 : double.Exp2((e.Ticks - asOf) * inv);
                value[e.Rule] += e.Admitted * d;
                if (explain) raw[e.Rule] += model.RulePoints[e.Rule] * d;
                count[e.Rule]++;
                if (e.Ticks > last[e.Rule]) last[e.Rule] = e.Ticks;
            }
        }

        for (var r = 0; r < value.Length; r++)
        {
            if (count[r] == 0) value[r] = 0;
            capped[model.RuleGroupIndex[r]] += value[r];
            if (!explain) continue;
            if (count[r] == 0) raw[r] = 0;
            uncapped[model.RuleGroupIndex[r]] += raw[r];
        }

        var engagement = 0.0;
        var caps = model.GroupCap;
        for (var g = 0; g < groupCount; g++)
        {
            // Caps are applied when points arrive (no reservoir); the clamp only absorbs rounding.
            capped[g] = Math.Clamp(capped[g], -caps[g], caps[g]);
            engagement += capped[g];
        }

        var fit = state.ProfileScore;
        var total = fit + engagement;
        var disqualification = state.DisqualifyingHardRule;
        var q = model.Qualification;
        // Actions are counted only when score and engagement would let the lead in (-1: not counted).
        var actions = -1;
        var handRaised = false;
        var enters = total >= model.EnterThreshold && engagement >= q.MinEngagementToEnter
            && ((actions = DistinctActions(model, asOf, count, last, out handRaised)) >= q.MinDistinctActions || handRaised);
        var stays = wasMql && total >= model.ExitThreshold && engagement >= q.MinEngagementToStay;
        var byPoints = disqualification < 0 && (enters || stays);
        var rule = disqualification < 0 && model.QualificationRules.Count > 0 ? FirstQualificationRule(state, model, asOf) : -1;
        var grade = model.Grades.FitGrade(fit);
        var band = model.Grades.EngagementBand(engagement);

        var hot = -1;
        var tier = MqlTier.None;
        if (byPoints)
        {
            // Tier hysteresis: a lead already at MQL keeps its fit tier within the margin below the grade bound, and
            // a Hot MQL stays Hot over the longer stay window.
            var tiers = model.Tiers;
            var fitOk = grade <= tiers.MinFitGradeForMql
                || (priorTier >= MqlTier.Mql && fit >= model.Grades.Bound(tiers.MinFitGradeForMql) - tiers.FitMarginToDemote);
            if (!fitOk)
            {
                tier = MqlTier.MqlLight;
            }
            else
            {
                hot = HotCondition(model, asOf, last, priorTier == MqlTier.HotMql ? tiers.HotStayWindow : tiers.HotWindow);
                tier = hot >= 0 ? MqlTier.HotMql : MqlTier.Mql;
            }
        }

        var qualifyingRule = -1;
        if (rule >= 0 && model.QualificationRules[rule].Tier > tier)
        {
            tier = model.QualificationRules[rule].Tier;
            qualifyingRule = rule;
            hot = -1;
        }

        return new Snapshot(fit, engagement, total, disqualification, tier != MqlTier.None, tier, grade, band, hot, qualifyingRule, actions, handRaised);
    }

    /// <summary>x·2^exponent without 0·∞ or overflow when asOf is far before the reference (past verdicts).</summary>
    private static double Scale(double x, double factor, double exponent)
    {
        if (x == 0) return 0;
        var scaled = x * factor;
        return double.IsFinite(scaled) && (scaled != 0 || exponent < 0)
            ? scaled
            : Math.CopySign(double.Exp2(Math.Min(1000, Math.Log2(Math.Abs(x)) + exponent)), x);
    }

    /// <summary>Distinct engagement rules with positive points counted within the action window; whether one is a hand-raiser.</summary>
    private static int DistinctActions(ScoringModel model, long asOf, ReadOnlySpan<int> count, ReadOnlySpan<long> last, out bool handRaised)
    {
        handRaised = false;
        var q = model.Qualification;
        if (q.MinDistinctActions == 0 && q.HandRaisers.Count == 0) return 0;
        var windowStart = asOf - q.ActionWindow.Ticks;
        var actions = 0;
        for (var r = 0; r < count.Length; r++)
        {
            if (count[r] == 0 || last[r] <= windowStart || model.RulePoints[r] <= 0) continue;
            actions++;
            handRaised |= model.RuleIsHandRaiser[r];
        }

        return actions;
    }

    /// <summary>
    /// The first qualification rule whose fit holds and whose clauses are all met at asOf, or -1. Clauses count the
    /// counted events kept individually (the newest maxEventsPerLead or more), in time order.
    /// </summary>
    private static int FirstQualificationRule(LeadScoreState state, ScoringModel model, long asOf)
    {
        Span<long> metAt = stackalloc long[ScoringModelLoader.MaxClauses];
        for (var i = 0; i < model.QualificationRules.Count; i++)
        {
            if (i >= state.QualificationFitHolds.Count || !state.QualificationFitHolds[i]) continue;
            var clauses = model.QualificationRules[i].Events;
            var all = true;
            for (var c = 0; c < clauses.Count && all; c++)
            {
                var clause = clauses[c];
                var from = asOf - clause.Window.Ticks;
                if (clause.After >= 0) from = Math.Max(from, metAt[clause.After]);
                var found = 0;
                foreach (var e in state.History)
                {
                    if (e.Ticks > asOf) break;
                    if (e.Ticks <= from || !clause.RuleMask[e.Rule]) continue;
                    if (++found == clause.AtLeast)
                    {
                        metAt[c] = e.Ticks;
                        break;
                    }
                }

                all = found >= clause.AtLeast;
            }

            if (all) return i;
        }

        return -1;
    }

    private static int HotCondition(ScoringModel model, long asOf, ReadOnlySpan<long> last, TimeSpan window)
    {
        var windowStart = asOf - window.Ticks;
        for (var c = 0; c < model.HotConditions.Length; c++)
        {
            var all = true;
            foreach (var r in model.HotConditions[c])
            {
                if (last[r] == 0 || last[r] <= windowStart)
                {
                    all = false;
                    break;
                }
            }

            if (all) return c;
        }

        return -1;
    }

    /// <summary>
    /// The first tick at which the lead no longer meets the stay condition (total &gt;= exit and engagement &gt;=
    /// the minimum to stay) if nothing else happens; null when it already does not, or never will.
    /// </summary>
    private static DateTimeOffset? DropInstant(ScoringModel model, long asOf, in Snapshot s, ReadOnlySpan<double> capped)
    {
        var minStay = model.Qualification.MinEngagementToStay;
        if (s.Total < model.ExitThreshold || s.Engagement < minStay) return null;
        var constant = 0.0;
        for (var g = 0; g < capped.Length; g++)
        {
            if (model.GroupInvHalfLifeTicks[g] == 0) constant += capped[g];
        }

        // Both conditions compare the same decaying sum D(τ) (fit is constant): D + C >= exit - fit and D + C >= minStay.
        // D falls, so the first to fail is the one with the higher bound: one solve.
        if (Crossing(model, constant, Math.Max(model.ExitThreshold - s.Fit, minStay), capped) is not { } t) return null;
        // In long arithmetic: asOf + τ as doubles would round to 128 ticks at today's tick counts.
        return t >= DateTimeOffset.MaxValue.UtcTicks - asOf ? null : new DateTimeOffset(asOf + (long)t, TimeSpan.Zero);
    }

    /// <summary>
    /// Solves C + Σ_g min(cap_g, A_g·2^(−τ/h_g)) = target for the smallest τ ≥ 0, to the tick: Newton steps from the
    /// left (the sum is convex and decreasing, so they never overshoot), bisection where a cap makes the curve flat.
    /// Negative points live only in non-decaying groups (validated), so the score never rises by itself.
    /// </summary>
    private static double? Crossing(ScoringModel model, double constant, double target, ReadOnlySpan<double> decayingValues)
    {
        double decaying = 0, minInv = double.PositiveInfinity;
        for (var g = 0; g < decayingValues.Length; g++)
        {
            var inv = model.GroupInvHalfLifeTicks[g];
            if (inv != 0 && decayingValues[g] > 0)
            {
                decaying += decayingValues[g];
                minInv = Math.Min(minInv, inv);
            }
        }

        var deficit = target - constant;
        if (deficit <= 0 || decaying <= 0) return null;

        if (SingleHalfLife(model, decayingValues, minInv))
        {
            // One half-life (the default model): D·2^(−τ·inv) = deficit in closed form, then settled to the tick.
            var tau = Math.Ceiling(Math.Log2(decaying / deficit) / minInv);
            if (!double.IsFinite(tau)) return null;
            if ((decaying * double.Exp2(-tau * minInv)) - deficit >= 0) tau++;
            else if (tau > 1 && (decaying * double.Exp2(-(tau - 1) * minInv)) - deficit < 0) tau--;
            return Math.Max(1, tau); // the caller saw the condition hold at asOf, whatever the rounding at τ = 0
        }

        double lo = 0, hi = Math.Max(1, (Math.Log2(decaying / deficit) / minInv) + 1);
        for (var i = 0; i < 64 && Excess(model, hi, constant - target, decayingValues, out _) >= 0; i++) hi *= 2;

        for (var i = 0; i < 200 && hi - lo > 1; i++)
        {
            var g = Excess(model, lo, constant - target, decayingValues, out var slope);
            var candidate = slope < 0 ? lo - (g / slope) : double.NaN;
            candidate = candidate > lo && candidate < hi ? Math.Max(candidate, lo + 1) : lo + ((hi - lo) / 2);
            if (candidate >= hi) candidate = lo + ((hi - lo) / 2);
            if (Excess(model, candidate, constant - target, decayingValues, out _) >= 0) lo = candidate;
            else hi = candidate;
        }

        return double.IsFinite(hi) ? Math.Ceiling(hi) : null;
    }

    private static bool SingleHalfLife(ScoringModel model, ReadOnlySpan<double> values, double inv)
    {
        for (var g = 0; g < values.Length; g++)
        {
            var gi = model.GroupInvHalfLifeTicks[g];
            if (gi != 0 && values[g] > 0 && (gi != inv || values[g] >= model.GroupCap[g])) return false;
        }

        return true;
    }

    /// <summary>score(asOf + τ) − exit for the decaying part, and its derivative.</summary>
    private static double Excess(ScoringModel model, double tau, double offset, ReadOnlySpan<double> uncapped, out double slope)
    {
        var sum = offset;
        slope = 0;
        for (var g = 0; g < uncapped.Length; g++)
        {
            var inv = model.GroupInvHalfLifeTicks[g];
            if (inv == 0 || uncapped[g] <= 0) continue;
            var v = uncapped[g] * double.Exp2(-tau * inv);
            var cap = model.GroupCap[g];
            if (v >= cap)
            {
                sum += cap;
            }
            else
            {
                sum += v;
                slope -= v * inv * Ln2;
            }
        }

        return sum;
    }

    private static string[] TopEventIds(LeadScoreState state, int rule, long asOf, bool pastPath)
    {
        var latest = state.Rules[rule].Latest;
        if (!pastPath)
        {
            if (latest.Count == 0) return [];
            var newest = new string[latest.Count];
            for (var i = 0; i < newest.Length; i++) newest[i] = latest[i].EventId;
            return newest;
        }

        // Before the newest event: the rule's newest counted events at or before asOf, from the history and
        // the per-rule list (which also remembers events already folded out of the history).
        Span<long> ticks = stackalloc long[LeadScoreState.LatestPerRule];
        var ids = new string[LeadScoreState.LatestPerRule];
        var found = 0;
        for (var i = state.History.Count - 1; i >= 0 && found < ids.Length; i--)
        {
            var e = state.History[i];
            if (e.Rule == rule && e.Ticks <= asOf) Offer(e.Ticks, e.EventId, ticks, ids, ref found);
        }

        foreach (var e in latest)
        {
            if (e.Ticks <= asOf) Offer(e.Ticks, e.EventId, ticks, ids, ref found);
        }

        return found == ids.Length ? ids : ids[..found];
    }

    /// <summary>Keeps the newest (ticks descending) distinct events in a tiny sorted buffer.</summary>
    private static void Offer(long t, string id, Span<long> ticks, string[] ids, ref int found)
    {
        for (var i = 0; i < found; i++)
        {
            if (ticks[i] == t && ids[i] == id) return;
        }

        var pos = found;
        while (pos > 0 && ticks[pos - 1] < t) pos--;
        if (pos >= ids.Length) return;
        var end = Math.Min(found, ids.Length - 1);
        for (var i = end; i > pos; i--)
        {
            ticks[i] = ticks[i - 1];
            ids[i] = ids[i - 1];
        }

        ticks[pos] = t;
        ids[pos] = id;
        if (found < ids.Length) found++;
    }

    internal static string TierReason(in Snapshot s, bool wasMql, ScoringModel model)
    {
        var c = CultureInfo.InvariantCulture;
        if (s.Disqualification >= 0)
            return $"disqualified by hard rule '{model.HardRules[s.Disqualification].Id}': {model.HardRules[s.Disqualification].Reason}";
        var q = model.Qualification;
        if (s.QualifyingRule >= 0)
        {
            var rule = model.QualificationRules[s.QualifyingRule];
            return $"qualification rule '{rule.Id}': {rule.Reason}";
        }

        return s.Tier switch
        {
            MqlTier.None when wasMql && s.Total < model.ExitThreshold =>
                string.Format(c, "score {0:0.##} is below the exit threshold {1}", s.Total, model.ExitThreshold),
            MqlTier.None when wasMql => string.Format(c,
                "engagement {0:0.##} is below the {1} an MQL needs to stay one: fit alone never holds a lead", s.Engagement, q.MinEngagementToStay),
            MqlTier.None when s.Total < model.EnterThreshold =>
                string.Format(c, "score {0:0.##} is below the enter threshold {1}", s.Total, model.EnterThreshold),
            MqlTier.None when s.Engagement < q.MinEngagementToEnter => string.Format(c,
                "engagement {0:0.##} is below the {1} an MQL needs: fit alone never qualifies a lead", s.Engagement, q.MinEngagementToEnter),
            MqlTier.None => string.Format(c,
                "{0} distinct engagement action(s) within {1} days; an MQL needs {2} or a hand-raiser ({3})",
                s.Actions, q.ActionWindow.TotalDays, q.MinDistinctActions, string.Join(", ", q.HandRaisers)),
            MqlTier.MqlLight => string.Format(c, "fit grade {0} is below {1}: engagement without fit, nurture", s.Grade, model.Tiers.MinFitGradeForMql),
            MqlTier.HotMql => string.Format(c, "hot signals {0} within {1} days, with fit grade {2}",
                string.Join(" + ", model.Tiers.HotAnyOf[s.HotCondition]), model.Tiers.HotWindow.TotalDays, s.Grade),
            _ => string.Format(c, "fit grade {0} and engagement band {1}", s.Grade, s.Band),
        };
    }
}

internal readonly record struct Snapshot(
    double Fit, double Engagement, double Total, int Disqualification, bool IsMql, MqlTier Tier, char Grade, int Band, int HotCondition,
    int QualifyingRule, int Actions, bool HandRaised);
