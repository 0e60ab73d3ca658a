using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

public class ExplanationTests
{
    [Fact]
    public void Given_repeated_signals_When_explained_Then_each_rule_reports_raw_points_decayed_value_count_last_occurrence_and_top_events()
    {
        var lead = Lead(profile: GoodFit, events:
        [
            Pricing(T0, "/pricing", "p1"), Pricing(T0.AddDays(1), "/pricing", "p2"), Pricing(T0.AddDays(2), "/pricing", "p3"),
            Pricing(T0.AddDays(3), "/pricing", "p4"), Demo(T0.AddDays(3), "d1"),
        ]);
        var asOf = T0.AddDays(33);

        var verdict = Verdict(lead, asOf);

        var pricing = verdict.Contributions.Single(c => c.RuleId == "page_pricing");
        pricing.Kind.Should().Be(RuleKind.Engagement);
        pricing.Group.Should().Be("web");
        pricing.RawPoints.Should().Be(80);
        pricing.Count.Should().Be(4);
        pricing.Decayed.Should().BeApproximately(20 * (Math.Pow(2, -33.0 / 30) + Math.Pow(2, -32.0 / 30) + Math.Pow(2, -31.0 / 30) + 0.5), 1e-9);
        pricing.Contribution.Should().BeApproximately(Saturated([(0, 20), (1, 20), (2, 20), (3, 20)], 50, 33), 1e-9,
            "the web cap admitted only what fit under 50 on days 2 and 3; Decayed is what the points would be worth uncapped");
        pricing.Contribution.Should().BeLessThan(pricing.Decayed);
        pricing.LastOccurredAt.Should().Be(T0.AddDays(3));
        pricing.TopEventIds.Should().Equal("p4", "p3", "p2");
        verdict.Contributions.Single(c => c.RuleId == "form_demo_request").Decayed.Should().BeApproximately(15, 1e-9);
        verdict.Contributions.Select(c => Math.Abs(c.Contribution)).Should().BeInDescendingOrder("biggest reasons first");
        verdict.TotalScore.Should().BeApproximately(verdict.Contributions.Sum(c => c.Contribution), 1e-9);
        verdict.CountedEvents.Should().Be(5);
    }

    [Fact]
    public void Given_a_capped_group_When_explained_Then_contributions_are_what_the_cap_admitted_and_still_sum_to_the_total()
    {
        var lead = Lead(events: [.. Enumerable.Range(0, 5).Select(i => Pricing(T0, $"/pricing/{i}"))]);

        var verdict = Verdict(lead, T0);

        verdict.Contributions.Single().Should().Match<RuleContribution>(c => c.Decayed == 100 && c.Contribution == 50);
        verdict.EngagementScore.Should().Be(50);
    }

    [Fact]
    public void Given_an_mql_with_no_further_activity_When_explained_Then_drops_below_exit_at_is_the_instant_from_the_decay_formula()
    {
        var lead = Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0)]);

        var drops = Verdict(lead, T0.AddDays(2)).DropsBelowExitAt;

        var expected = T0 + HalfLife * Math.Log2(50.0 / 15); // 25 + 50·2^(−t/h) = 40
        drops.Should().NotBeNull();
        drops!.Value.Should().BeCloseTo(expected, TimeSpan.FromMilliseconds(1));
        Verdict(lead, drops.Value).TotalScore.Should().BeLessThan(40);
        Verdict(lead, drops.Value.AddMilliseconds(-1)).TotalScore.Should().BeGreaterThanOrEqualTo(40);
    }

    [Fact]
    public void Given_groups_with_different_half_lives_and_a_cap_When_explained_Then_drops_below_exit_at_is_the_first_instant_under_40()
    {
        var model = DefaultWith("{ \"id\": \"email\", \"halfLifeDays\": 30, \"cap\": 10 }", "{ \"id\": \"email\", \"halfLifeDays\": 3, \"cap\": 10 }");
        var events = Enumerable.Range(0, 6).Select(i => Pricing(T0, $"/p/{i}"))
            .Concat(Enumerable.Range(0, 8).Select(i => Ev("email_clicked", T0, activity: $"m{i}"))).ToArray();
        var lead = Lead(model, events: events);

        var drops = Verdict(lead, T0, model).DropsBelowExitAt!.Value;

        Verdict(lead, drops, model).TotalScore.Should().BeLessThan(40);
        Verdict(lead, drops.AddMilliseconds(-1), model).TotalScore.Should().BeGreaterThanOrEqualTo(40);
        // 50·2^(−t/30) + 10·2^(−t/3) = 40 at t ≈ 10.6 days: caps admit 50 and 10, no reservoir above them holds the lead up.
        drops.Should().BeAfter(T0.AddDays(10)).And.BeBefore(T0.AddDays(11), "issue 8: caps store no reservoir, so a quiet lead loses points at once");
    }

    [Fact]
    public void Given_a_score_held_up_by_fit_When_explained_Then_it_drops_when_engagement_falls_below_the_minimum_to_stay()
    {
        // DESIGN.md, Domain: "fit alone never qualifies or holds a lead". Fit 45 keeps the total above 40 forever, but
        // the demo's 30 points fall below the 5 an MQL needs to stay one after log2(30/5) half-lives.
        var drops = Verdict(Lead(profile: PerfectFit, events: Demo(T0)), T0).DropsBelowExitAt;

        drops.Should().NotBeNull();
        drops!.Value.Should().BeCloseTo(T0 + HalfLife * Math.Log2(30.0 / 5), TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public void Given_a_score_already_below_exit_When_explained_Then_there_is_no_drop_instant()
    {
        Verdict(Lead(events: Pricing(T0)), T0).DropsBelowExitAt.Should().BeNull();
    }

    [Fact]
    public void Given_an_as_of_in_the_past_When_explained_Then_only_events_up_to_it_are_listed()
    {
        var lead = Lead(events: [Pricing(T0, id: "a"), Pricing(T0.AddDays(1), id: "b"), Pricing(T0.AddDays(2), id: "c")]);

        var pricing = Verdict(lead, T0.AddDays(1).AddHours(1)).Contributions.Single();

        pricing.TopEventIds.Should().Equal("b", "a");
        pricing.Count.Should().Be(2);
        pricing.LastOccurredAt.Should().Be(T0.AddDays(1));
    }

    [Fact]
    public void Given_a_profile_When_explained_Then_fit_rules_carry_the_profile_update_instant()
    {
        var lead = LeadScoreState.Create(Default);
        lead.ApplyProfile(GoodFit, Default, T0.AddDays(-3));

        Verdict(lead, T0).Contributions.Should().OnlyContain(c => c.LastOccurredAt == T0.AddDays(-3) && c.Count == 1);
    }
}

public class OutOfOrderAndHistoryTests
{
    private static ScoringEvent[] Story() =>
    [
        Pricing(T0, "/pricing", "a"), Ev("email_opened", T0.AddHours(1), activity: "m1", id: "b"), Demo(T0.AddDays(2), "c"),
        Ev("email_opened", T0.AddDays(2).AddHours(3), activity: "m1", id: "d"), Ev("email_opened", T0.AddDays(2).AddHours(1), activity: "m1", id: "e"),
        Ev("webinar_attended", T0.AddDays(5), id: "f"), Ev("unsubscribed", T0.AddDays(6), id: "g"), Pricing(T0.AddDays(7), "/pricing", "h"),
    ];

    [Fact]
    public void Given_the_same_events_in_reverse_order_When_evaluated_Then_the_verdict_equals_the_in_order_one()
    {
        var inOrder = Lead(profile: GoodFit, events: Story());
        var reversed = Lead(profile: GoodFit, events: [.. Story().Reverse()]);

        foreach (var asOf in new[] { T0.AddDays(2).AddHours(2), T0.AddDays(8), T0.AddDays(60) })
        {
            var expected = Verdict(inOrder, asOf);
            var actual = Verdict(reversed, asOf);
            actual.TotalScore.Should().BeApproximately(expected.TotalScore, 1e-9);
            actual.Contributions.Should().BeEquivalentTo(expected.Contributions, o => o
                .Using<double>(x => x.Subject.Should().BeApproximately(x.Expectation, 1e-9)).WhenTypeIs<double>());
        }
    }

    [Fact]
    public void Given_a_history_of_four_events_When_more_arrive_Then_as_of_at_or_after_the_floor_is_exact_and_before_it_is_refused()
    {
        var model = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 4");
        var events = Enumerable.Range(0, 10).Select(i => Pricing(T0.AddDays(i), $"/p{i}", $"p{i}")).ToArray();
        var lead = Lead(model, events: events);

        // At eight events the oldest four (days 0-3) were folded into the per-rule base; days 4-9 stay individual.
        lead.History.Select(e => e.Ticks).Should().Equal(events.Skip(4).Select(e => e.OccurredAt.UtcTicks));
        lead.EarliestExactAsOf.Should().Be(T0.AddDays(3));
        var atFloor = Verdict(lead, T0.AddDays(3), model);
        atFloor.Contributions.Single().Count.Should().Be(4);
        atFloor.EngagementScore.Should().BeApproximately(Math.Min(50, Enumerable.Range(0, 4).Sum(i => 20 * Math.Pow(2, -(3.0 - i) / 30))), 1e-9);
        var mid = Verdict(lead, T0.AddDays(6).AddHours(1), model).Contributions.Single();
        (mid.Count, mid.LastOccurredAt).Should().Be((7, T0.AddDays(6)));
        mid.TopEventIds.Should().Equal("p6", "p5", "p4");

        var act = () => Verdict(lead, T0.AddDays(3).AddTicks(-1), model);

        act.Should().Throw<AsOfOutOfRangeException>().Which.EarliestExactAsOf.Should().Be(T0.AddDays(3));
    }

    [Fact]
    public void Given_a_late_event_older_than_the_folded_history_When_applied_Then_it_counts_exactly_from_the_floor_on()
    {
        var model = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 2");
        var lead = Lead(model, events: [.. Enumerable.Range(10, 4).Select(d => Pricing(T0.AddDays(d), $"/p{d}")), Ev("webinar_attended", T0)]);

        lead.EarliestExactAsOf.Should().Be(T0.AddDays(11));
        var asOf = T0.AddDays(20);
        Verdict(lead, asOf, model).EngagementScore.Should().BeApproximately(
            Saturated(Enumerable.Range(10, 4).Select(d => ((double)d, 20.0)), 50, 20) + (10 * Math.Pow(2, -20.0 / 30)), 1e-9);
        Verdict(lead, T0.AddDays(12).AddHours(1), model).Contributions.Sum(c => c.Count).Should().Be(4, "days 10-12 and the late webinar");
    }

    [Fact]
    public void Given_profile_updates_out_of_order_When_merged_with_timestamps_Then_the_newest_value_of_each_field_wins()
    {
        var lead = LeadScoreState.Create(Default);
        lead.ApplyProfile(new LeadProfile(null, "CEO", 200, null, null, null), Default, T0.AddDays(2));

        lead.ApplyProfile(new LeadProfile("old@acme.com", "Intern", null, null, null, null), Default, T0);

        lead.Profile.JobTitle.Should().Be("CEO");
        lead.Profile.Email.Should().Be("old@acme.com", "no newer email was known");
        Verdict(lead, T0.AddDays(3)).FitScore.Should().Be(25);
    }
}
