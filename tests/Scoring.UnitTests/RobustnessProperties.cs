using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>Issue 8: caps never stop decay, and no input yields a non-finite score.</summary>
public class RobustnessProperties
{
    private static readonly (string Type, string? Category)[] Kinds =
    [
        ("page_viewed", "pricing"), ("page_viewed", "blog"), ("page_viewed", "product"), ("form_submitted", "demo_request"),
        ("form_submitted", "contact_sales"), ("email_opened", null), ("email_clicked", null), ("webinar_attended", null),
        ("content_downloaded", null), ("sales_contacted", null), ("unsubscribed", null), ("trial_started", null),
    ];

    private static Gen<ScoringEvent> Burst(int index) =>
        from kind in Gen.Elements(Kinds)
        from activity in Gen.Elements("a", "b", "c", "d", null)
        from minutes in Gen.Choose(0, 20 * 1440)
        select new ScoringEvent($"ev-{index}", kind.Type, T0.AddMinutes(minutes), kind.Category, activity);

    private static Arbitrary<(ScoringEvent[] Events, int QuietDays, int LaterDays)> Quiet() =>
        (from count in Gen.Choose(1, 80)
         from events in Gen.CollectToArray(Enumerable.Range(0, count), Burst)
         from quiet in Gen.Choose(0, 400)
         from later in Gen.Choose(1, 400)
         select (events, quiet, later)).ToArbitrary();

    [Property(MaxTest = 300)]
    public Property Given_any_events_then_silence_When_time_passes_Then_every_decaying_group_decays_exactly_by_its_half_life_even_at_its_cap() =>
        Prop.ForAll(Quiet(), c =>
        {
            var lead = Lead(profile: GoodFit, events: c.Events);
            var t1 = lead.LatestEventAt!.Value.AddDays(c.QuietDays);
            var t2 = t1.AddDays(c.LaterDays);

            var (before, after) = (Verdict(lead, t1), Verdict(lead, t2));

            foreach (var (g1, g2) in before.Groups.Zip(after.Groups))
            {
                if (g1.HalfLife is not { } h) continue;
                var expected = g1.Score * Math.Pow(2, -(t2 - t1).TotalDays / h.TotalDays);
                if (Math.Abs(g2.Score - expected) > 1e-9 * Math.Max(1, g1.Score))
                    return false.Label($"group {g1.GroupId}: {g1.Score} -> {g2.Score}, expected pure decay to {expected}");
            }

            var decaying = before.Groups.Any(g => g.HalfLife is not null && g.Score > 0);
            return (decaying ? after.EngagementScore < before.EngagementScore : after.EngagementScore == before.EngagementScore)
                .Label($"engagement {before.EngagementScore} -> {after.EngagementScore} over {c.LaterDays} quiet days: a quiet lead must lose points");
        });

    [Property(MaxTest = 300)]
    public Property Given_any_events_When_the_drop_instant_is_computed_Then_it_is_the_first_tick_that_fails_the_stay_condition() =>
        Prop.ForAll(Quiet(), c =>
        {
            var lead = Lead(profile: PerfectFit, events: c.Events);
            var from = lead.LatestEventAt!.Value;
            double Margin(DateTimeOffset at)
            {
                var v = Verdict(lead, at);
                return Math.Min(v.TotalScore - Default.ExitThreshold, v.EngagementScore - Default.Qualification.MinEngagementToStay);
            }

            // To the tick, up to rounding: the solver and the verdict evaluate the same decay in different orders.
            var drop = Scorer.DropsBelowExitAt(lead, Default, from);
            if (drop is not { } d) return (Margin(from) < 1e-9 || Margin(from.AddYears(50)) >= -1e-9).Label("no drop: fails already or holds for ever");
            return (Margin(d.AddTicks(-1)) >= -1e-9 && Margin(d) < 1e-9).Label($"drop {d:O}: margin {Margin(d.AddTicks(-1))} a tick before, {Margin(d)} at it");
        });

    private static Arbitrary<(long[] EventTicks, int[] Kinds, long[] AsOfTicks, string?[] Countries)> Extremes()
    {
        var ticks = Gen.OneOf(
            Gen.Elements(DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks, ScoringEvent.EarliestAccepted.UtcTicks,
                ScoringEvent.LatestAccepted.UtcTicks, new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks, T0.UtcTicks),
            Gen.Choose(0, int.MaxValue).Select(i => (long)(i / (double)int.MaxValue * DateTimeOffset.MaxValue.UtcTicks)),
            Gen.Choose(-100_000, 100_000).Select(m => T0.AddMinutes(m).UtcTicks));
        return (from n in Gen.Choose(0, 40)
                from events in Gen.ArrayOf(ticks, n)
                from kinds in Gen.ArrayOf(Gen.Choose(0, Kinds.Length - 1), n)
                from asOfs in Gen.ArrayOf(ticks, 4)
                from countries in Gen.ArrayOf(Gen.Elements<string?>(null, "", " ", "USA", "Narnia", "🇺🇸", new string('x', 500)), 1)
                select (events, kinds, asOfs, countries)).ToArbitrary();
    }

    [Property(MaxTest = 400)]
    public Property Given_any_timestamps_profiles_and_as_of_instants_When_scored_Then_every_number_is_finite_or_the_as_of_is_refused() =>
        Prop.ForAll(Extremes(), c =>
        {
            var lead = LeadScoreState.Create(Default);
            lead.ApplyProfile(PerfectFit with { Country = c.Countries[0] }, Default);
            for (var i = 0; i < c.EventTicks.Length; i++)
            {
                lead.Apply(new ScoringEvent($"e{i}", Kinds[c.Kinds[i]].Type, new DateTimeOffset(c.EventTicks[i], TimeSpan.Zero), Kinds[c.Kinds[i]].Category, $"a{i % 3}"), Default);
            }

            foreach (var asOfTicks in c.AsOfTicks)
            {
                var asOf = new DateTimeOffset(asOfTicks, TimeSpan.Zero);
                Verdict verdict;
                try { verdict = Scorer.Evaluate(lead, Default, asOf); }
                catch (AsOfOutOfRangeException) { continue; }

                var numbers = new[] { verdict.TotalScore, verdict.FitScore, verdict.EngagementScore }
                    .Concat(verdict.Contributions.SelectMany(x => new[] { x.Contribution, x.Decayed, x.RawPoints }))
                    .Concat(verdict.Groups.SelectMany(g => new[] { g.Score, g.Uncapped }));
                if (!numbers.All(double.IsFinite)) return false.Label($"non-finite number as of {asOf:O}");
                if (Math.Abs(verdict.Contributions.Sum(x => x.Contribution) - verdict.TotalScore) > 1e-6)
                    return false.Label($"explanation {verdict.Contributions.Sum(x => x.Contribution)} does not add up to {verdict.TotalScore}");
                lead.UpdateStage(asOf, Default);
            }

            return true.ToProperty();
        });
}
