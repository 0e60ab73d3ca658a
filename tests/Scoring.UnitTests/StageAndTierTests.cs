using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

public class HysteresisTests
{
    [Fact]
    public void Given_a_score_of_exactly_50_When_the_stage_is_updated_Then_the_lead_enters_mql()
    {
        var lead = Lead(events: [Pricing(T0), Demo(T0)]);

        var transition = lead.UpdateStage(T0, Default);

        transition.Should().NotBeNull();
        transition!.Direction.Should().Be(StageDirection.EnteredMql);
        transition.At.Should().Be(T0);
        transition.TotalScore.Should().Be(50);
        transition.IsReactivation.Should().BeFalse();
        (transition.ModelId, transition.ModelVersion).Should().Be(("default", 3));
        lead.IsMql.Should().BeTrue();
    }

    [Fact]
    public void Given_a_score_just_below_50_When_the_stage_is_updated_Then_the_lead_stays_a_lead()
    {
        var lead = Lead(profile: new LeadProfile(null, null, null, null, "DE", null), events: [Pricing(T0), Ev("trial_started", T0)]);

        Verdict(lead, T0).TotalScore.Should().Be(50);
        lead.UpdateStage(T0.AddMinutes(1), Default).Should().BeNull("score is 49.99.. one minute later");
        lead.IsMql.Should().BeFalse();
    }

    [Fact]
    public void Given_an_mql_When_its_score_decays_between_exit_and_enter_Then_it_stays_mql_without_flipping()
    {
        var lead = Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0)]);
        lead.UpdateStage(T0, Default)!.Direction.Should().Be(StageDirection.EnteredMql);
        var asOf = T0 + HalfLife * 1.5; // 25 + 50·2^-1.5 = 42.7

        lead.UpdateStage(asOf, Default).Should().BeNull();
        var verdict = Verdict(lead, asOf);
        verdict.TotalScore.Should().BeInRange(40, 50);
        verdict.IsMql.Should().BeTrue("once MQL, it only exits below the exit threshold");

        var fresh = Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0)]);
        Verdict(fresh, asOf).IsMql.Should().BeFalse("a lead never MQL needs the enter threshold");
    }

    [Fact]
    public void Given_an_mql_When_its_score_decays_below_40_Then_it_exits_at_the_exact_crossing_instant()
    {
        var lead = Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0)]);
        lead.UpdateStage(T0, Default);
        var crossing = T0 + HalfLife * Math.Log2(50.0 / 15); // 25 + 50·2^(−t/h) = 40

        var transition = lead.UpdateStage(T0.AddDays(90), Default);

        transition!.Direction.Should().Be(StageDirection.ExitedMql);
        transition.At.Should().BeCloseTo(crossing, TimeSpan.FromMilliseconds(1));
        transition.Reason.Should().Contain("below the exit threshold 40");
        lead.IsMql.Should().BeFalse();
        lead.UpdateStage(T0.AddDays(91), Default).Should().BeNull();
    }

    [Fact]
    public void Given_a_recycled_lead_When_it_re_engages_above_50_Then_it_re_enters_as_a_reactivation()
    {
        var lead = Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0)]);
        lead.UpdateStage(T0, Default);
        lead.UpdateStage(T0.AddDays(90), Default)!.Direction.Should().Be(StageDirection.ExitedMql);
        var later = T0.AddDays(120);
        lead.Apply(Demo(later), Default);

        var transition = lead.UpdateStage(later, Default);

        transition!.Direction.Should().Be(StageDirection.EnteredMql);
        transition.IsReactivation.Should().BeTrue();
        transition.Reason.Should().Contain("reactivated");
        lead.MqlEntries.Should().Be(2);
    }

    [Fact]
    public void Given_an_mql_When_the_profile_reveals_a_competitor_Then_it_exits_with_the_hard_rule_as_reason()
    {
        var lead = Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0)]);
        lead.UpdateStage(T0, Default);
        lead.ApplyProfile(new LeadProfile("ana@leadrank.com", null, null, null, null, null), Default);

        var transition = lead.UpdateStage(T0.AddHours(1), Default);

        transition!.Direction.Should().Be(StageDirection.ExitedMql);
        transition.Reason.Should().Contain("exclude_competitor").And.Contain("Works for a competitor");
    }

    [Fact]
    public void Given_a_disqualified_lead_with_100_points_When_the_stage_is_updated_Then_it_never_enters_mql()
    {
        var lead = Lead(profile: new LeadProfile("x@qualifyhq.com", "CEO", 1000, "Software", "US", true),
            events: [Demo(T0), Pricing(T0), Ev("trial_started", T0), Ev("form_submitted", T0, "contact_sales")]);

        lead.UpdateStage(T0, Default).Should().BeNull();
        Verdict(lead, T0).IsMql.Should().BeFalse();
    }

    [Fact]
    public void Given_an_unsubscribe_When_it_pushes_an_mql_below_40_Then_the_exit_happens_at_the_event()
    {
        var lead = Lead(events: [Pricing(T0), Demo(T0)]);
        lead.UpdateStage(T0, Default);
        var at = T0.AddDays(1);
        lead.Apply(Ev("unsubscribed", at), Default);

        var transition = lead.UpdateStage(at, Default);

        transition!.At.Should().Be(at);
    }
}

public class TierAndMatrixTests
{
    [Fact]
    public void Given_a_demo_request_and_fit_When_mql_Then_it_is_a_hot_mql()
    {
        var verdict = Verdict(Lead(profile: GoodFit, events: [Demo(T0), Ev("email_opened", T0)]), T0);

        verdict.Tier.Should().Be(MqlTier.HotMql);
        verdict.TierReason.Should().Contain("form_demo_request");
    }

    [Fact]
    public void Given_a_pricing_view_plus_a_sales_interaction_and_fit_When_mql_Then_it_is_a_hot_mql()
    {
        var verdict = Verdict(Lead(profile: GoodFit, events: [Pricing(T0), Ev("sales_contacted", T0.AddDays(1))]), T0.AddDays(1));

        verdict.TotalScore.Should().BeGreaterThanOrEqualTo(50);
        verdict.Tier.Should().Be(MqlTier.HotMql);
        verdict.TierReason.Should().Contain("page_pricing + sales_contacted");
    }

    [Fact]
    public void Given_pricing_and_contact_sales_form_with_fit_When_mql_Then_it_is_a_plain_mql()
    {
        var verdict = Verdict(Lead(profile: GoodFit, events: [Pricing(T0), Ev("form_submitted", T0, "contact_sales")]), T0);

        verdict.IsMql.Should().BeTrue();
        verdict.Tier.Should().Be(MqlTier.Mql);
    }

    [Fact]
    public void Given_a_demo_request_older_than_the_hot_window_When_still_mql_Then_it_is_no_longer_hot()
    {
        var lead = Lead(profile: PerfectFit, events: Demo(T0));

        Verdict(lead, T0.AddDays(13)).Tier.Should().Be(MqlTier.HotMql);
        Verdict(lead, T0.AddDays(15)).Tier.Should().Be(MqlTier.Mql);
    }

    [Fact]
    public void Given_engagement_without_fit_When_over_the_threshold_Then_it_is_mql_light_for_nurture()
    {
        var verdict = Verdict(Lead(events: [Demo(T0), Pricing(T0), Ev("webinar_attended", T0)]), T0);

        verdict.IsMql.Should().BeTrue();
        verdict.Tier.Should().Be(MqlTier.MqlLight, "a demo request without fit is not hot");
        verdict.TierReason.Should().Contain("engagement without fit");
    }

    [Fact]
    public void Given_a_perfect_fit_without_engagement_When_evaluated_Then_fit_alone_is_not_an_mql_and_the_reason_says_so()
    {
        var verdict = Verdict(Lead(profile: PerfectFit), T0);

        verdict.FitScore.Should().Be(45);
        verdict.IsMql.Should().BeFalse();
        verdict.Tier.Should().Be(MqlTier.None);
        verdict.TierReason.Should().Be("score 45 is below the enter threshold 50");
    }

    [Theory]
    [InlineData(50, 45, "A1")]
    [InlineData(35, 40, "A1")]
    [InlineData(34, 39.9, "B2")]
    [InlineData(20, 25, "B2")]
    [InlineData(19, 24, "C3")]
    [InlineData(5, 10, "C3")]
    [InlineData(4, 9, "D4")]
    [InlineData(-60, 0, "D4")]
    public void Given_fit_and_engagement_scores_When_graded_Then_the_matrix_cell_follows_the_grade_and_band_bounds(double fit, double engagement, string cell)
    {
        var grades = Default.Grades;

        $"{grades.FitGrade(fit)}{grades.EngagementBand(engagement)}".Should().Be(cell);
    }

    [Fact]
    public void Given_a_perfect_fit_and_a_demo_plus_pricing_When_evaluated_Then_the_verdict_cell_is_A1()
    {
        var verdict = Verdict(Lead(profile: PerfectFit, events: [Demo(T0), Pricing(T0)]), T0);

        (verdict.FitGrade, verdict.EngagementBand, verdict.MatrixCell).Should().Be(('A', 1, "A1"));
    }

    [Fact]
    public void Given_an_empty_lead_When_evaluated_Then_the_verdict_cell_is_D4_with_no_contributions()
    {
        var verdict = Verdict(Lead(), T0);

        (verdict.MatrixCell, verdict.TotalScore, verdict.Contributions.Count, verdict.DropsBelowExitAt).Should().Be(("D4", 0, 0, null));
    }
}
