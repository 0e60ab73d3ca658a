using ScoringPlatform.Scoring.Lifecycle;
using static ScoringPlatform.Scoring.UnitTests.TestModels;
using static ScoringPlatform.Scoring.UnitTests.Lifecycle.LifecycleTestData;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>
/// The findings of issue 9 ("The lead lifecycle over time"), each reproduced first with today's UpdateStage-based
/// behaviour (the "Before" lines assert the wrong answer it gives), then answered by the timeline.
/// </summary>
public class LifecycleFindingTests
{
    // GoodFit (fit 25) + a demo request (30, a hand-raiser) at T0: 55, an MQL. 25 + 30·2^(-t/30) = 40 at exactly day 30.
    private static readonly LeadInput Profile0 = Profile(T0, GoodFit, "p0");
    private static readonly LeadInput Demo0 = Engagement(Demo(T0, "demo0"));

    // At day 60 the demo is worth 7.5: 25 + 7.5 + webinar 10 = 42.5, between exit 40 and enter 50.
    private static readonly LeadInput Webinar60 = Engagement(Ev("webinar_attended", T0.AddDays(60), id: "webinar60"));

    [Fact]
    public void Finding1_Given_an_mql_that_decays_below_exit_and_re_engages_between_exit_and_enter_When_the_timeline_is_replayed_Then_it_was_recycled_at_the_crossing_and_is_not_an_mql()
    {
        // DESIGN.md: "a lead that goes cold loses points and can fall out of MQL (recycled to nurture)";
        // "No stage flipping: separate enter/exit thresholds".
        // Before (finding 1): the dip below 40 between events is never seen; still an MQL at day 60.
        var old = LeadScoreState.Create(Default);
        old.ApplyProfile(GoodFit, Default, T0);
        old.Apply(Demo(T0, "demo0"), Default);
        old.UpdateStage(T0, Default)!.Direction.Should().Be(StageDirection.EnteredMql);
        old.Apply(Ev("webinar_attended", T0.AddDays(60), id: "webinar60"), Default);
        old.UpdateStage(T0.AddDays(60), Default).Should().BeNull();
        old.IsMql.Should().BeTrue("finding 1 reproduced: today's stage never saw the dip");

        var result = LeadTimeline.Replay(Default, [Profile0, Demo0, Webinar60], T0.AddDays(60));

        // A demo request with fit is a Hot MQL: no sales action within 4 h breaches the SLA; Hot until day 21 (stay window).
        result.Transitions.Select(t => (t.Kind, t.ToTier)).Should().Equal(
            (TransitionKind.MqlEntered, MqlTier.HotMql), (TransitionKind.SlaBreached, MqlTier.HotMql),
            (TransitionKind.TierChanged, MqlTier.Mql), (TransitionKind.Recycled, MqlTier.None));
        result.Transitions[1].At.Should().Be(T0.AddHours(4));
        result.Transitions[2].At.Should().Be(T0.AddDays(21), "a hot signal counts while it is less than 21 days old");
        var exit = result.Transitions[3];
        exit.At.Should().BeCloseTo(T0.AddDays(30), TimeSpan.FromSeconds(1));
        exit.TriggeringInputId.Should().BeNull("time alone caused it");
        exit.Cause.Should().Be(new TransitionCause(CauseKind.Threshold, "threshold"));
        exit.Scores.Total.Should().BeLessThan(40).And.BeGreaterThan(39.99);
        result.Status.Stage.Should().Be(LifecycleStage.Recycled);
        Scorer.TotalScore(Lead(Default, GoodFit, Demo(T0), Ev("webinar_attended", T0.AddDays(60))), Default, T0.AddDays(60)).Should().BeApproximately(42.5, 1e-9);
    }

    [Fact]
    public void Finding2_Given_the_same_three_events_When_they_arrive_in_reverse_order_Then_the_transitions_are_the_same()
    {
        // DESIGN.md: "event-sourced ... derives per-lead fit, engagement and time-decayed scores" from the events, not their arrival.
        // Before (finding 2): UpdateStage at the newest instant after each event gives true in arrival order, false in reverse.
        OldIsMql([Profile0, Demo0, Webinar60]).Should().BeTrue();
        OldIsMql([Webinar60, Demo0, Profile0]).Should().BeFalse("finding 2 reproduced");

        var inOrder = Incremental([Profile0, Demo0, Webinar60]);
        var reversed = Incremental([Webinar60, Demo0, Profile0]);

        reversed.Transitions.Select(t => t.Id).Should().Equal(inOrder.Transitions.Select(t => t.Id));
        reversed.Status.Should().Be(inOrder.Status);
        inOrder.Status.Stage.Should().Be(LifecycleStage.Recycled);
    }

    [Fact]
    public void Finding3_Given_a_lead_that_first_reached_50_on_day_5_When_asked_about_an_hour_after_its_first_event_Then_it_was_not_an_mql_then()
    {
        // DESIGN.md: "Threshold: combined score >= 50 makes an MQL"; hysteresis only holds a lead that *was* an MQL.
        LeadInput[] inputs = [Profile(T0, GoodFit, "p"), Engagement(Pricing(T0, id: "pricing0")), Engagement(Demo(T0.AddDays(5), "demo5"))];
        var asOf = T0.AddHours(1);
        // Before (finding 3): the verdict judges the past with today's stage.
        var state = Lead(Default, GoodFit, Pricing(T0), Demo(T0.AddDays(5)));
        state.UpdateStage(T0.AddDays(5), Default);
        var before = Scorer.Evaluate(state, Default, asOf);
        before.TotalScore.Should().BeApproximately(45, 0.05);
        before.IsMql.Should().BeTrue("finding 3 reproduced");

        var then = LeadTimeline.StatusAt(Default, inputs, asOf);

        then.Stage.Should().Be(LifecycleStage.Lead);
        Scorer.Evaluate(state, Default, asOf, then.Stage == LifecycleStage.Mql, then.Tier).IsMql.Should().BeFalse();
        LeadTimeline.StatusAt(Default, inputs, T0.AddDays(5)).Stage.Should().Be(LifecycleStage.Mql);
    }

    [Fact]
    public void Finding4_Given_a_profile_update_on_day_10_revealing_a_personal_email_When_it_pushes_the_score_below_exit_Then_the_exit_is_dated_day_10_and_names_the_update()
    {
        // DESIGN.md: "Negative scoring: ... personal email domain -10"; "always with a reason and a timestamp".
        // Day 10: 25 + 30·2^(-1/3) = 48.8; the personal email (-10) makes it 38.8, below exit 40.
        var update = Profile(T0.AddDays(10), new LeadProfile("ana@gmail.com", null, null, null, null, null), "p10");
        // Before (finding 4): the exit is bisected over time with the new profile, so it is dated ~day 7.9.
        var old = LeadScoreState.Create(Default);
        old.ApplyProfile(GoodFit, Default, T0);
        old.Apply(Demo(T0), Default);
        old.UpdateStage(T0, Default);
        old.ApplyProfile(new LeadProfile("ana@gmail.com", null, null, null, null, null), Default, T0.AddDays(10));
        old.UpdateStage(T0.AddDays(10), Default)!.At.Should().BeBefore(T0.AddDays(8), "finding 4 reproduced");

        var result = LeadTimeline.Replay(Default, [Profile0, Demo0, update], T0.AddDays(10));

        var exit = result.Transitions.Last();
        (exit.Kind, exit.At, exit.TriggeringInputId).Should().Be((TransitionKind.Recycled, T0.AddDays(10), "p10"));
        exit.Scores.Fit.Should().Be(15);
        exit.Reason.Should().Contain("after p10");
    }

    [Fact]
    public void Finding5_Given_an_mql_light_When_a_profile_update_gives_it_fit_and_it_has_a_demo_request_Then_a_tier_change_to_hot_mql_is_emitted()
    {
        // DESIGN.md: "Tiers: MQL-Light (engagement only, weak fit ...), MQL (fit + engagement), Hot MQL (demo request ... with fit)".
        LeadInput[] inputs =
        [
            Engagement(Demo(T0, "demo")), Engagement(Ev("form_submitted", T0, "contact_sales", "cs", "cs")),
            Profile(T0.AddDays(1), GoodFit, "fit1"),
        ];
        // Before (finding 5): already an MQL, so UpdateStage reports nothing when the tier changes.
        var old = Lead(Default, null, Demo(T0), Ev("form_submitted", T0, "contact_sales", "cs"));
        old.UpdateStage(T0, Default)!.Tier.Should().Be(MqlTier.MqlLight);
        old.ApplyProfile(GoodFit, Default, T0.AddDays(1));
        old.UpdateStage(T0.AddDays(1), Default).Should().BeNull("finding 5 reproduced");
        Verdict(old, T0.AddDays(1)).Tier.Should().Be(MqlTier.HotMql);

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(1));

        result.Transitions.Should().HaveCount(2);
        var promotion = result.Transitions[1];
        (promotion.Kind, promotion.FromTier, promotion.ToTier, promotion.At, promotion.TriggeringInputId)
            .Should().Be((TransitionKind.TierChanged, MqlTier.MqlLight, MqlTier.HotMql, T0.AddDays(1), "fit1"));
        promotion.Reason.Should().Contain("promoted");
        result.Status.Sla!.Deadline.Should().Be(T0.AddDays(1).AddHours(4), "promotion to Hot starts the 4 h follow-up window");
    }

    [Fact]
    public void Finding6_Given_an_mql_When_a_hard_rule_disqualifies_it_Then_the_transition_is_a_disqualification_naming_the_rule()
    {
        // DESIGN.md: "Hard rules ... exclusions (competitors, students, invalid regions) that disqualify regardless of points, with a reason."
        var competitor = Profile(T0.AddDays(2), new LeadProfile("bob@rivalscore.io", null, null, null, null, null), "p2");
        // Before (finding 6): the library's only exit is ExitedMql, which the projection publishes as MqlExited.
        var old = Lead(Default, GoodFit, Demo(T0));
        old.UpdateStage(T0, Default);
        old.ApplyProfile(new LeadProfile("bob@rivalscore.io", null, null, null, null, null), Default, T0.AddDays(2));
        old.UpdateStage(T0.AddDays(2), Default)!.Direction.Should().Be(StageDirection.ExitedMql, "finding 6 reproduced: one exit kind for every cause");

        var result = LeadTimeline.Replay(Default, [Profile0, Demo0, competitor], T0.AddDays(2));

        var exit = result.Transitions.Last();
        (exit.Kind, exit.To, exit.Cause, exit.At).Should().Be(
            (TransitionKind.Disqualified, LifecycleStage.Disqualified, new TransitionCause(CauseKind.HardRule, "exclude_competitor"), T0.AddDays(2)));
        exit.Reason.Should().Contain("Works for a competitor").And.NotContain("exit threshold");
    }

    [Fact]
    public void Finding7_Given_an_mql_When_sales_accepts_qualifies_and_converts_Then_each_step_is_a_transition_with_actor_and_reason()
    {
        // DESIGN.md: "Lifecycle: Lead -> MQL -> SAL (sales accepted) -> SQL -> converted; ... always with a reason and a timestamp."
        LeadInput[] inputs =
        [
            Profile0, Demo0,
            Sales(SalesActionKind.Accept, T0.AddHours(2), "k1"),
            Sales(SalesActionKind.Qualify, T0.AddDays(3), "k2"),
            Sales(SalesActionKind.Convert, T0.AddDays(20), "k3", amount: 12000m),
        ];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(90));

        result.Transitions.Select(t => (t.Kind, t.To)).Should().Equal(
            (TransitionKind.MqlEntered, LifecycleStage.Mql), (TransitionKind.SalesAccepted, LifecycleStage.Sal),
            (TransitionKind.SalesQualified, LifecycleStage.Sql), (TransitionKind.Converted, LifecycleStage.Converted));
        result.Transitions.Skip(1).Should().OnlyContain(t => t.Actor == "rep@acme.com" && t.Cause.Kind == CauseKind.SalesAction);
        result.Transitions.Last().Amount.Should().Be(12000m);
        result.Status.Sla!.Met.Should().BeTrue();
        result.NextDueAt.Should().BeNull();
    }

    private static bool OldIsMql(LeadInput[] arrival)
    {
        var state = LeadScoreState.Create(Default);
        var newest = DateTimeOffset.MinValue;
        foreach (var input in arrival)
        {
            if (input is EngagementInput e) state.Apply(e.Event, Default);
            if (input is ProfileInput p) state.ApplyProfile(p.Profile, Default, p.OccurredAt);
            if (input.At > newest) newest = input.At;
            state.UpdateStage(newest, Default);
        }

        return state.IsMql;
    }
}
