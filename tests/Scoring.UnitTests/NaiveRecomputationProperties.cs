using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>
/// Random event sequences, applied in random arrival order: the incremental O(1) state must give the same score as
/// recomputing from the full history, for any as-of instant the state says it can score exactly.
/// </summary>
public class NaiveRecomputationProperties
{
    private static readonly (string Type, string? Category)[] Kinds =
    [
        ("page_viewed", "pricing"), ("page_viewed", "blog"), ("page_viewed", "careers"), ("page_viewed", "product"),
        ("form_submitted", "demo_request"), ("form_submitted", "newsletter"), ("email_opened", null), ("email_clicked", null),
        ("webinar_attended", null), ("content_downloaded", null), ("sales_contacted", null), ("unsubscribed", null),
        ("trial_started", null), ("made_up_event", null),
    ];

    private static readonly ScoringModel SmallHistory = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 6");

    public sealed record Case(ScoringEvent[] Events, int[] ArrivalKeys, long AsOfMinutes, bool Small)
    {
        public override string ToString() =>
            $"asOf=+{AsOfMinutes}min small={Small} events=[{string.Join(", ", Events.Select(e => $"{e.Type}/{e.Category}/{e.ActivityKey}@{(e.OccurredAt - T0).TotalMinutes}"))}] order=[{string.Join(",", ArrivalKeys)}]";
    }

    private static Gen<ScoringEvent> EventGen(int index) =>
        from kind in Gen.Elements(Kinds)
        from activity in Gen.Elements("a", "b", null)
        from day in Gen.Choose(0, 40)
        from minute in Gen.Choose(0, 1439)
        select new ScoringEvent($"ev-{index}-{day}-{minute}", kind.Type, T0.AddDays(day).AddMinutes(minute), kind.Category, activity);

    private static Arbitrary<Case> Cases() =>
        (from count in Gen.Choose(0, 60)
         from events in Gen.CollectToArray(Enumerable.Range(0, count), EventGen)
         from keys in Gen.ArrayOf(Gen.Choose(0, 1000), count)
         from asOf in Gen.Choose(-60, 80 * 1440)
         from small in Gen.Elements(false, true)
         select new Case(events, keys, asOf, small)).ToArbitrary();

    [Property(MaxTest = 400)]
    public Property Given_random_events_in_random_arrival_order_When_scored_at_any_exact_as_of_Then_the_score_equals_a_naive_recomputation() =>
        Prop.ForAll(Cases(), c =>
        {
            var model = c.Small ? SmallHistory : Default;
            var state = LeadScoreState.Create(model);
            state.ApplyProfile(GoodFit, model);
            var olderThanFolded = false;
            foreach (var e in c.Events.Zip(c.ArrivalKeys).OrderBy(x => x.Second).Select(x => x.First))
            {
                olderThanFolded |= state.EarliestExactAsOf is { } f && e.OccurredAt < f;
                state.Apply(e, model);
            }

            var asOf = T0.AddMinutes(c.AsOfMinutes);
            if (state.EarliestExactAsOf is { } floor && asOf < floor)
            {
                var refused = false;
                try { Scorer.Evaluate(state, model, asOf); }
                catch (AsOfOutOfRangeException) { refused = true; }
                return refused.Label("an inexact as-of is refused");
            }

            var expected = Naive(model, 25, c.Events, asOf);
            var verdict = Scorer.Evaluate(state, model, asOf);
            var stageScore = Scorer.TotalScore(state, model, asOf);
            var explained = verdict.Contributions.Sum(c => c.Contribution);
            if (olderThanFolded)
            {
                // A capped group cannot re-admit events already folded out of the bounded history (documented): bounds only.
                var bound = 25 + model.Groups.Sum(g => g.Cap ?? 1e6);
                return (double.IsFinite(verdict.TotalScore) && Math.Abs(verdict.TotalScore) <= bound && stageScore == verdict.TotalScore)
                    .Label($"late event older than the folded history: {verdict.TotalScore} within ±{bound}").Classify(true, "older than folded");
            }

            return (Math.Abs(verdict.TotalScore - expected) < 1e-9 && stageScore == verdict.TotalScore && Math.Abs(explained - verdict.TotalScore) < 1e-9)
                .Label($"incremental {verdict.TotalScore} vs naive {expected}, explained {explained}");
        });

    /// <summary>
    /// Straight from the definition: filter by as-of, earliest N per rule/activity/UTC day, p·2^(−age/h); a capped
    /// group admits each event, in time order, only up to its cap at that instant (no reservoir).
    /// </summary>
    private static double Naive(ScoringModel model, double fit, IEnumerable<ScoringEvent> events, DateTimeOffset asOf)
    {
        var counted = events
            .Where(e => e.OccurredAt <= asOf)
            .Select(e => (Event: e, Rule: model.EngagementRules.FirstOrDefault(r =>
                r.EventType == e.Type && (r.Categories is null || r.Categories.Contains(e.Category!)))))
            .Where(x => x.Rule is not null)
            .GroupBy(x => (x.Rule!.Id, x.Event.ActivityKey, x.Event.OccurredAt.UtcDateTime.Date))
            .SelectMany(g => g.OrderBy(x => x.Event.OccurredAt).Take(g.First().Rule!.FrequencyCapPerActivityPerDay ?? int.MaxValue));

        var engagement = 0.0;
        foreach (var group in model.Groups)
        {
            var inGroup = counted.Where(x => x.Rule!.Group == group.Id).ToList();
            if (group.Cap is { } cap)
            {
                engagement += Saturated(
                    inGroup.Select(x => ((x.Event.OccurredAt - T0).TotalDays, x.Rule!.Points)), cap, (asOf - T0).TotalDays,
                    group.HalfLife?.TotalDays ?? double.PositiveInfinity);
                continue;
            }

            engagement += inGroup.Sum(x => group.HalfLife is { } h
                ? x.Rule!.Points * Math.Pow(2, -(asOf - x.Event.OccurredAt).TotalDays / h.TotalDays)
                : x.Rule!.Points);
        }

        return fit + engagement;
    }
}
