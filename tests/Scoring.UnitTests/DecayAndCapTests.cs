using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

public class DecayTests
{
    [Fact]
    public void Given_a_pricing_view_When_one_half_life_passes_Then_its_points_are_exactly_halved()
    {
        var lead = Lead(events: Pricing(T0));

        Verdict(lead, T0 + HalfLife).EngagementScore.Should().BeApproximately(10, 1e-12);
        Verdict(lead, T0 + HalfLife * 2).EngagementScore.Should().BeApproximately(5, 1e-12);
        Verdict(lead, T0 + HalfLife / 2).EngagementScore.Should().BeApproximately(20 / Math.Sqrt(2), 1e-12);
    }

    [Fact]
    public void Given_events_at_different_times_When_scored_Then_each_decays_by_its_own_age()
    {
        var lead = Lead(events: [Pricing(T0), Ev("webinar_attended", T0.AddDays(15))]);
        var asOf = T0.AddDays(45);

        var expected = (20 * Math.Pow(2, -45.0 / 30)) + (10 * Math.Pow(2, -30.0 / 30));
        Verdict(lead, asOf).EngagementScore.Should().BeApproximately(expected, 1e-12);
    }

    [Fact]
    public void Given_an_as_of_before_an_event_When_scored_Then_the_later_event_does_not_count()
    {
        var lead = Lead(events: [Pricing(T0), Demo(T0.AddDays(10))]);

        var verdict = Verdict(lead, T0.AddDays(5));

        verdict.EngagementScore.Should().BeApproximately(20 * Math.Pow(2, -5.0 / 30), 1e-12);
        verdict.Contributions.Should().ContainSingle(c => c.Kind == RuleKind.Engagement).Which.RuleId.Should().Be("page_pricing");
    }

    [Fact]
    public void Given_an_as_of_before_every_event_When_scored_Then_the_engagement_is_zero()
    {
        Verdict(Lead(events: Pricing(T0)), T0.AddTicks(-1)).EngagementScore.Should().Be(0);
    }

    [Fact]
    public void Given_the_same_state_When_evaluated_repeatedly_in_any_order_of_as_of_Then_each_as_of_gives_the_same_verdict()
    {
        static LeadScoreState NewLead() =>
            Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0.AddDays(3)), Ev("email_opened", T0.AddDays(9), activity: "mail-1")]);
        var lead = NewLead();
        var instants = new[] { T0.AddDays(40), T0.AddDays(1), T0.AddDays(9), T0.AddDays(5), T0.AddDays(40) };

        // One state evaluated back and forth in time, against a never-evaluated state per instant.
        var evaluated = instants.Select(t => Verdict(lead, t)).ToArray();
        var fresh = instants.Select(t => Verdict(NewLead(), t)).ToArray();

        // Event ids differ between the copies (the helpers number events); everything else must match.
        evaluated.Should().BeEquivalentTo(fresh, o => o.WithStrictOrdering().Excluding(m => m.Name == "TopEventIds"));
        evaluated.Select(v => v.TotalScore).Distinct().Should().HaveCount(4, "the four distinct instants give four different scores");
    }

    [Fact]
    public void Given_events_years_apart_When_scored_Then_rebasing_keeps_values_finite_and_exact()
    {
        var lead = Lead(events: [Pricing(T0), Pricing(T0.AddYears(8), page: "/pricing/eu"), Pricing(T0.AddYears(20), page: "/pricing/us")]);

        var verdict = Verdict(lead, T0.AddYears(20).AddDays(30));

        verdict.EngagementScore.Should().BeApproximately(10, 1e-9);
        lead.ReferenceTicks.Should().BeGreaterThan(T0.AddYears(8).UtcTicks - 1, "the reference instant moved forward");
        lead.Rules.Should().OnlyContain(r => double.IsFinite(r.Total));
        Verdict(lead, T0.AddYears(8).AddDays(60)).EngagementScore.Should().BeApproximately(5, 1e-9, "history values were rebased too");
    }
}

public class CapTests
{
    [Fact]
    public void Given_many_email_clicks_When_scored_Then_the_email_group_counts_at_most_its_cap()
    {
        var events = Enumerable.Range(0, 15).Select(i => Ev("email_clicked", T0, activity: $"campaign-{i}")).ToArray();

        var verdict = Verdict(Lead(events: events), T0);

        verdict.EngagementScore.Should().Be(10);
        var email = verdict.Groups.Single(g => g.GroupId == "email");
        (email.Uncapped, email.Score, email.Cap).Should().Be((45, 10, 10));
        verdict.Contributions.Single(c => c.RuleId == "email_clicked").Should().Match<RuleContribution>(c => c.Decayed == 45 && c.Contribution == 10 && c.Count == 15);
    }

    [Fact]
    public void Given_a_capped_group_When_time_passes_Then_it_decays_from_the_cap_at_once_without_a_reservoir()
    {
        // Issue 8: "five pricing views (+100 raw, web cap 50) plus fit 25 score 75 on day 0, day 20 and day 30".
        var events = Enumerable.Range(0, 5).Select(i => Pricing(T0, page: $"/pricing/{i}")).ToArray();
        var lead = Lead(profile: GoodFit, events: events);

        Verdict(lead, T0).TotalScore.Should().Be(75, "100 raw points, 50 admitted by the web cap, plus fit 25");
        Verdict(lead, T0.AddDays(20)).TotalScore.Should().BeApproximately(25 + (50 * Math.Pow(2, -20.0 / 30)), 1e-9);
        Verdict(lead, T0.AddDays(30)).TotalScore.Should().BeApproximately(50, 1e-9, "one half-life halves what the cap admitted");
        Verdict(lead, T0.AddDays(30)).Groups.Single(g => g.GroupId == "web").Uncapped.Should().BeApproximately(50, 1e-9, "Uncapped: the raw 100, decayed");
    }

    [Fact]
    public void Given_twenty_opens_of_one_email_on_one_day_When_scored_Then_they_are_one_signal()
    {
        var lead = Lead();
        var results = Enumerable.Range(0, 20).Select(i => lead.Apply(Ev("email_opened", T0.AddMinutes(i * 10), activity: "newsletter-42"), Default)).ToArray();

        results[0].Outcome.Should().Be(ApplyOutcome.Counted);
        results.Skip(1).Should().OnlyContain(r => r.Outcome == ApplyOutcome.FrequencyCapped && r.RuleId == "email_opened");
        var verdict = Verdict(lead, T0.AddHours(4));
        verdict.Contributions.Single().Count.Should().Be(1);
        verdict.FrequencyCappedEvents.Should().Be(19);
    }

    [Fact]
    public void Given_opens_of_one_email_on_two_days_or_of_two_emails_on_one_day_When_scored_Then_each_counts()
    {
        var lead = Lead(events:
        [
            Ev("email_opened", T0, activity: "mail-a"),
            Ev("email_opened", T0.AddDays(1), activity: "mail-a"),
            Ev("email_opened", T0, activity: "mail-b"),
        ]);

        Verdict(lead, T0.AddDays(1)).Contributions.Single().Count.Should().Be(3);
    }

    [Fact]
    public void Given_a_capped_day_When_an_earlier_event_of_that_day_arrives_late_Then_the_earliest_counts_as_if_in_order()
    {
        var inOrder = Lead(events: [Ev("email_opened", T0.AddHours(1), activity: "m", id: "early"), Ev("email_opened", T0.AddHours(8), activity: "m", id: "late")]);
        var lateArrival = Lead();
        lateArrival.Apply(Ev("email_opened", T0.AddHours(8), activity: "m", id: "late"), Default);

        var result = lateArrival.Apply(Ev("email_opened", T0.AddHours(1), activity: "m", id: "early"), Default);

        result.Outcome.Should().Be(ApplyOutcome.CountedReplacingLater);
        var asOf = T0.AddDays(3);
        Verdict(lateArrival, asOf).TotalScore.Should().BeApproximately(Verdict(inOrder, asOf).TotalScore, 1e-12);
        Verdict(lateArrival, asOf).Contributions.Single().TopEventIds.Should().Equal("early");
        Verdict(lateArrival, T0.AddHours(2)).EngagementScore.Should().BeGreaterThan(0, "the early open counts from 01:00");
    }

    [Fact]
    public void Given_a_cap_of_two_per_day_When_three_arrive_Then_two_count()
    {
        var model = DefaultWith("\"points\": 1, \"frequencyCap\": { \"perActivityPerDay\": 1 }", "\"points\": 1, \"frequencyCap\": { \"perActivityPerDay\": 2 }");
        var lead = Lead(model, events: [.. Enumerable.Range(0, 3).Select(i => Ev("email_opened", T0.AddMinutes(i), activity: "m"))]);

        Verdict(lead, T0.AddHours(1), model).Contributions.Single().Count.Should().Be(2);
    }

    [Fact]
    public void Given_repeat_visits_to_the_pricing_page_on_different_days_When_scored_Then_each_day_counts()
    {
        var lead = Lead(events: [Pricing(T0), Pricing(T0.AddHours(2)), Pricing(T0.AddDays(1))]);

        var pricing = Verdict(lead, T0.AddDays(1)).Contributions.Single();

        pricing.Count.Should().Be(2);
        pricing.Decayed.Should().BeApproximately(20 + (20 * Math.Pow(2, -1.0 / 30)), 1e-9);
    }

    [Fact]
    public void Given_no_activity_key_When_capped_Then_the_cap_applies_per_rule_per_day()
    {
        var lead = Lead(events: [Ev("webinar_attended", T0), Ev("webinar_attended", T0.AddHours(2))]);

        Verdict(lead, T0.AddHours(3)).Contributions.Single().Count.Should().Be(1);
    }

    [Fact]
    public void Given_frequency_counters_for_many_days_When_they_fall_beyond_the_horizon_Then_they_are_pruned_and_state_stays_bounded()
    {
        var lead = Lead();
        for (var day = 0; day < 400; day++)
        {
            for (var mail = 0; mail < 3; mail++) lead.Apply(Ev("email_opened", T0.AddDays(day), activity: $"m{mail}"), Default);
        }

        lead.FrequencyBuckets.Values.Should().OnlyContain(b => b.Day >= (int)(T0.AddDays(399).UtcTicks / TimeSpan.TicksPerDay) - 90 - 2 * 256 / 3);
        lead.FrequencyBuckets.Count.Should().BeLessThan(3 * (90 + 200), "old days are dropped, not kept for ever");
        lead.FrequencyPruneAt.Should().BeGreaterThanOrEqualTo(lead.FrequencyBuckets.Count);
        Verdict(lead, T0.AddDays(399)).Contributions.Single().Count.Should().Be(1200, "pruning never changes what was counted");
    }

    [Fact]
    public void Given_the_same_activity_key_When_hashed_in_another_process_Then_the_frequency_key_is_stable()
    {
        // Pinned value: the key is persisted in the stored state, so it must not depend on string.GetHashCode.
        LeadScoreState.FrequencyKey(3, "mail-1", 20000).Should().Be(LeadScoreState.FrequencyKey(3, "mail-1", 20000));
        LeadScoreState.FrequencyKey(3, "mail-1", 20000).Should().NotBe(LeadScoreState.FrequencyKey(3, "mail-1", 20001));
        LeadScoreState.FrequencyKey(3, null, 20000).Should().NotBe(LeadScoreState.FrequencyKey(3, "", 20000));
        LeadScoreState.FrequencyKey(0, "a", 1).Should().Be(-2789472989403642719L, "FNV-1a 64 over (rule, day, chars)");
    }
}
