using ScoringPlatform.Scoring.Lifecycle;
using static ScoringPlatform.Scoring.UnitTests.TestModels;
using static ScoringPlatform.Scoring.UnitTests.Lifecycle.LifecycleTestData;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>
/// DESIGN.md: "Lifecycle: Lead -> MQL -> SAL (sales accepted) -> SQL -> converted; or recycled / disqualified, always with
/// a reason and a timestamp. A lead can qualify more than once." and "Closed loop: sales feedback (accepted / rejected /
/// recycled / converted + reason) is recorded".
/// </summary>
public class SalesLifecycleTests
{
    private static LifecycleStatus At(LifecycleStage stage, MqlTier tier = MqlTier.None) => LifecycleStatus.Initial with { Stage = stage, Tier = tier };

    private static SalesAction Action(SalesActionKind kind, string? reason = "why", LifecycleStage? expected = null, decimal? amount = null) =>
        new(kind, "rep@acme.com", T0, "k", reason, expected, amount);

    public static TheoryData<SalesActionKind, LifecycleStage, MqlTier, LifecycleStage?> Legality => new()
    {
        // action, current stage, tier, stage after (null: refused)
        { SalesActionKind.Accept, LifecycleStage.Mql, MqlTier.Mql, LifecycleStage.Sal },
        { SalesActionKind.Accept, LifecycleStage.Mql, MqlTier.HotMql, LifecycleStage.Sal },
        { SalesActionKind.Accept, LifecycleStage.Mql, MqlTier.MqlLight, null },
        { SalesActionKind.Accept, LifecycleStage.Lead, MqlTier.None, null },
        { SalesActionKind.Accept, LifecycleStage.Recycled, MqlTier.None, null },
        { SalesActionKind.Accept, LifecycleStage.Sal, MqlTier.None, null },
        { SalesActionKind.Reject, LifecycleStage.Mql, MqlTier.Mql, LifecycleStage.Recycled },
        { SalesActionKind.Reject, LifecycleStage.Sal, MqlTier.None, LifecycleStage.Recycled },
        { SalesActionKind.Reject, LifecycleStage.Sql, MqlTier.None, null },
        { SalesActionKind.Reject, LifecycleStage.Lead, MqlTier.None, null },
        { SalesActionKind.Recycle, LifecycleStage.Mql, MqlTier.Mql, LifecycleStage.Recycled },
        { SalesActionKind.Recycle, LifecycleStage.Sql, MqlTier.None, LifecycleStage.Recycled },
        { SalesActionKind.Recycle, LifecycleStage.Lead, MqlTier.None, null },
        { SalesActionKind.Recycle, LifecycleStage.Recycled, MqlTier.None, null },
        { SalesActionKind.Qualify, LifecycleStage.Sal, MqlTier.None, LifecycleStage.Sql },
        { SalesActionKind.Qualify, LifecycleStage.Mql, MqlTier.HotMql, null },
        { SalesActionKind.Qualify, LifecycleStage.Sql, MqlTier.None, null },
        { SalesActionKind.Convert, LifecycleStage.Sql, MqlTier.None, LifecycleStage.Converted },
        { SalesActionKind.Convert, LifecycleStage.Sal, MqlTier.None, LifecycleStage.Converted },
        { SalesActionKind.Convert, LifecycleStage.Mql, MqlTier.HotMql, null },
        { SalesActionKind.Convert, LifecycleStage.Lead, MqlTier.None, null },
        { SalesActionKind.Convert, LifecycleStage.Recycled, MqlTier.None, null },
        { SalesActionKind.Disqualify, LifecycleStage.Lead, MqlTier.None, LifecycleStage.Disqualified },
        { SalesActionKind.Disqualify, LifecycleStage.Mql, MqlTier.Mql, LifecycleStage.Disqualified },
        { SalesActionKind.Disqualify, LifecycleStage.Sql, MqlTier.None, LifecycleStage.Disqualified },
        { SalesActionKind.Disqualify, LifecycleStage.Disqualified, MqlTier.None, null },
        { SalesActionKind.Disqualify, LifecycleStage.Converted, MqlTier.None, null },
        { SalesActionKind.Accept, LifecycleStage.Converted, MqlTier.None, null },
    };

    [Theory]
    [MemberData(nameof(Legality))]
    public void Given_a_stage_When_sales_acts_Then_the_legality_table_decides_and_a_refusal_names_the_current_stage(
        SalesActionKind kind, LifecycleStage stage, MqlTier tier, LifecycleStage? expected)
    {
        var decision = SalesDecisions.Decide(At(stage, tier), Action(kind), T0);

        decision.Accepted.Should().Be(expected is not null);
        if (expected is { } to) decision.To.Should().Be(to);
        else decision.Reason.Should().Contain(stage == LifecycleStage.Mql && tier == MqlTier.MqlLight ? "MQL-Light" : stage.ToString());
    }

    [Fact]
    public void Given_a_stale_expected_stage_When_sales_acts_Then_it_is_refused_naming_the_stage_found()
    {
        var decision = SalesDecisions.Decide(At(LifecycleStage.Recycled), Action(SalesActionKind.Accept, expected: LifecycleStage.Mql), T0);

        decision.Accepted.Should().BeFalse();
        decision.Reason.Should().Contain("expected stage Mql").And.Contain("Recycled");
    }

    [Theory]
    [InlineData(SalesActionKind.Reject)]
    [InlineData(SalesActionKind.Recycle)]
    [InlineData(SalesActionKind.Disqualify)]
    public void Given_an_action_that_needs_a_reason_When_it_has_none_Then_it_is_refused(SalesActionKind kind)
    {
        SalesDecisions.Decide(At(LifecycleStage.Mql, MqlTier.Mql), Action(kind, reason: " "), T0).Reason.Should().Contain("reason");
    }

    [Fact]
    public void Given_a_negative_amount_When_converting_Then_it_is_refused()
    {
        SalesDecisions.Decide(At(LifecycleStage.Sql), Action(SalesActionKind.Convert, amount: -1), T0).Accepted.Should().BeFalse();
    }

    [Fact]
    public void Given_a_sales_accepted_lead_When_its_score_decays_below_exit_Then_it_is_not_recycled_automatically()
    {
        // README "After sales acceptance": sales owns a SAL; decay recycles MQLs only ("fall out of MQL (recycled to nurture)").
        LeadInput[] inputs = [Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d")), Sales(SalesActionKind.Accept, T0.AddHours(1), "k")];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(200));

        result.Status.Stage.Should().Be(LifecycleStage.Sal);
        result.Transitions.Should().NotContain(t => t.Kind == TransitionKind.Recycled);
        result.NextDueAt.Should().BeNull();
    }

    [Fact]
    public void Given_a_sales_accepted_lead_When_a_profile_update_reveals_a_competitor_Then_the_hard_rule_still_disqualifies_it()
    {
        // DESIGN.md: hard rules "disqualify regardless of points, with a reason".
        LeadInput[] inputs =
        [
            Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d")), Sales(SalesActionKind.Accept, T0.AddHours(1), "k"),
            Profile(T0.AddDays(3), new LeadProfile("ana@leadrank.com", null, null, null, null, null), "p3"),
        ];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(3));

        result.Transitions.Last().Should().Match<LifecycleTransition>(t =>
            t.From == LifecycleStage.Sal && t.To == LifecycleStage.Disqualified && t.Cause.Id == "exclude_competitor");
    }

    [Fact]
    public void Given_a_lead_disqualified_by_a_hard_rule_When_the_profile_is_corrected_Then_the_disqualification_is_lifted_and_it_qualifies_again()
    {
        // DESIGN.md: "Data quality: validate inputs ... resolve identity"; hard rules disqualify "with a reason"; "A lead can qualify more than once."
        LeadInput[] inputs =
        [
            Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d")),
            Profile(T0.AddHours(1), new LeadProfile("ana@rivalscore.io", null, null, null, null, null), "wrong-email"),
            Profile(T0.AddHours(5), new LeadProfile("ana@acme.com", null, null, null, null, null), "corrected"),
        ];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddHours(5));

        result.Transitions.Select(t => (t.Kind, t.To)).Should().Equal(
            (TransitionKind.MqlEntered, LifecycleStage.Mql), (TransitionKind.Disqualified, LifecycleStage.Disqualified),
            (TransitionKind.DisqualificationLifted, LifecycleStage.Lead), (TransitionKind.MqlEntered, LifecycleStage.Mql));
        result.Transitions[3].IsReactivation.Should().BeTrue();
        result.Transitions[2].TriggeringInputId.Should().Be("corrected");
    }

    [Fact]
    public void Given_a_lead_recycled_by_sales_while_its_score_is_high_When_it_engages_again_Then_it_is_a_reactivated_mql()
    {
        // DESIGN.md: "Later re-engagement makes a *reactivated* MQL"; "A lead can qualify more than once."
        LeadInput[] inputs =
        [
            Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d")),
            Sales(SalesActionKind.Recycle, T0.AddHours(1), "k", reason: "no budget this quarter"),
            Profile(T0.AddHours(2), new LeadProfile(null, null, 600, null, null, null), "p2"),
            Engagement(Pricing(T0.AddDays(2), id: "pricing2")),
        ];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(2));

        result.Transitions.Select(t => t.Kind).Should().Equal(TransitionKind.MqlEntered, TransitionKind.Recycled, TransitionKind.MqlEntered);
        result.Transitions[1].Reason.Should().Be("recycled by rep@acme.com: no budget this quarter");
        var again = result.Transitions[2];
        (again.IsReactivation, again.TriggeringInputId, again.At).Should().Be((true, "pricing2", T0.AddDays(2)));
        again.Reason.Should().Contain("reactivated");
        result.Status.MqlEntries.Should().Be(2);
    }

    [Fact]
    public void Given_a_sales_action_with_an_idempotency_key_When_recorded_twice_Then_it_counts_once()
    {
        var lead = Incremental([Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d"))]);
        var accept = Sales(SalesActionKind.Accept, T0.AddHours(1), "same-key");

        LeadTimeline.Record(lead, accept, Default).Emitted.Should().ContainSingle(t => t.Kind == TransitionKind.SalesAccepted);
        var again = LeadTimeline.Record(lead, accept, Default);

        again.Emitted.Should().BeEmpty();
        again.Refusals.Should().BeEmpty();
        lead.Status.Stage.Should().Be(LifecycleStage.Sal);
    }

    [Fact]
    public void Given_a_refused_action_When_recorded_Then_the_refusal_is_returned_and_nothing_changes()
    {
        var lead = Incremental([Profile(T0, GoodFit, "p"), Engagement(Pricing(T0, id: "x"))]);

        var update = LeadTimeline.Record(lead, Sales(SalesActionKind.Convert, T0.AddHours(1), "k"), Default);

        update.Emitted.Should().BeEmpty();
        update.Refusals.Should().ContainSingle().Which.Should().Match<SalesRefusal>(r =>
            r.CurrentStage == LifecycleStage.Lead && r.Reason.Contains("only a lead sales accepted"));
    }

    [Fact]
    public void Given_accept_qualify_and_convert_dated_at_one_instant_When_recorded_in_any_arrival_order_Then_they_apply_in_recording_order()
    {
        // "Lead -> MQL -> SAL (sales accepted) -> SQL -> converted": a CRM that sends the three within one second must see
        // them applied in the order it sent them, not by idempotency key ("accept" < "convert" < "qualify").
        var at = T0.AddHours(1);
        SalesInput Act(SalesActionKind kind, string key, long sequence) =>
            new(new SalesAction(kind, "rep@acme.com", at, key, Sequence: sequence));
        LeadInput[] history =
        [
            Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d")),
            Act(SalesActionKind.Accept, "accept", 3), Act(SalesActionKind.Qualify, "qualify", 4), Act(SalesActionKind.Convert, "convert", 5),
        ];

        var replay = LeadTimeline.Replay(Default, history, at);
        replay.Transitions.Select(t => t.Kind).Should().Equal(
            TransitionKind.MqlEntered, TransitionKind.SalesAccepted, TransitionKind.SalesQualified, TransitionKind.Converted);
        replay.Refusals.Should().BeEmpty();

        foreach (var arrival in new[] { history, history.Reverse().ToArray(), [history[0], history[1], history[4], history[2], history[3]] })
        {
            Incremental(arrival).Transitions.Select(t => t.Id).Should().Equal(replay.Transitions.Select(t => t.Id));
        }
    }
}
