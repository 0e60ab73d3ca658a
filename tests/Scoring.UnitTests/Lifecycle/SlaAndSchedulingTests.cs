using ScoringPlatform.Scoring.Lifecycle;
using static ScoringPlatform.Scoring.UnitTests.TestModels;
using static ScoringPlatform.Scoring.UnitTests.Lifecycle.LifecycleTestData;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>DESIGN.md: "SLA: sales should follow up within a window (typically 4-24 h; Hot MQL fastest); a breach is an event."</summary>
public class SlaAndSchedulingTests
{
    // GoodFit (grade B) + pricing + a webinar: 25 + 20 + 10 = 55, two actions, no hot set: an MQL (24 h).
    private static readonly LeadInput[] PlainMql =
    [
        Profile(T0, GoodFit, "p"), Engagement(Pricing(T0, id: "pricing")), Engagement(Ev("webinar_attended", T0, id: "webinar")),
    ];

    [Fact]
    public void Given_an_mql_When_no_sales_action_comes_within_24_hours_Then_a_breach_is_a_transition_at_the_deadline()
    {
        var result = LeadTimeline.Replay(Default, PlainMql, T0.AddDays(2));

        result.Transitions.Select(t => t.Kind).Should().Equal(TransitionKind.MqlEntered, TransitionKind.SlaBreached);
        var breach = result.Transitions[1];
        (breach.At, breach.From, breach.To, breach.TriggeringInputId).Should().Be((T0.AddHours(24), LifecycleStage.Mql, LifecycleStage.Mql, (string?)null));
        result.Status.Sla.Should().Be(new SlaStatus(MqlTier.Mql, T0, T0.AddHours(24), null, true));
    }

    [Fact]
    public void Given_an_mql_When_sales_accepts_before_the_deadline_Then_the_sla_is_met_and_never_breached()
    {
        var result = LeadTimeline.Replay(Default, [.. PlainMql, Sales(SalesActionKind.Accept, T0.AddHours(23), "k")], T0.AddDays(2));

        result.Transitions.Should().NotContain(t => t.Kind == TransitionKind.SlaBreached);
        result.Status.Sla!.Met.Should().BeTrue();
        result.Status.Sla.MetAt.Should().Be(T0.AddHours(23));
    }

    [Fact]
    public void Given_an_mql_When_sales_answers_after_the_deadline_Then_the_breach_stands_and_the_sla_is_not_met()
    {
        var result = LeadTimeline.Replay(Default, [.. PlainMql, Sales(SalesActionKind.Reject, T0.AddHours(30), "k", reason: "wrong person")], T0.AddDays(2));

        result.Transitions.Select(t => t.Kind).Should().Equal(TransitionKind.MqlEntered, TransitionKind.SlaBreached, TransitionKind.Recycled);
        result.Status.Sla!.Met.Should().BeFalse();
        result.Status.Sla.MetAt.Should().Be(T0.AddHours(30));
    }

    [Fact]
    public void Given_a_hot_mql_When_nothing_happens_Then_the_next_due_instant_is_the_4_hour_deadline_then_the_tier_drop_then_the_exit()
    {
        LeadInput[] inputs = [Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "demo"))];

        var first = LeadTimeline.NextDueAfter(Default, inputs, T0);
        var second = LeadTimeline.NextDueAfter(Default, inputs, first!.Value);
        var third = LeadTimeline.NextDueAfter(Default, inputs, second!.Value);

        first.Should().Be(T0.AddHours(4));
        second.Should().Be(T0.AddDays(21), "Hot stays while the demo is younger than hotStaysWithinDays");
        third.Should().BeCloseTo(T0.AddDays(30), TimeSpan.FromSeconds(1), "25 + 30·2^(-t/30) falls below 40 at day 30");
        LeadTimeline.NextDueAfter(Default, inputs, third!.Value).Should().BeNull("a recycled lead changes only with new inputs");
    }

    [Fact]
    public void Given_a_stored_lead_When_the_scheduler_wakes_at_each_due_instant_Then_it_gets_exactly_the_time_driven_transitions()
    {
        var lead = Incremental([Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "demo"))]);
        var kinds = new List<TransitionKind>();

        for (var due = LeadTimeline.NextDue(lead, Default); due is { } at; due = LeadTimeline.NextDue(lead, Default))
        {
            var update = LeadTimeline.AdvanceTo(lead, at, Default);
            update.Superseded.Should().BeEmpty();
            update.Emitted.Should().ContainSingle().Which.At.Should().Be(at);
            kinds.Add(update.Emitted[0].Kind);
            update.NextDueAt.Should().Be(LeadTimeline.NextDue(lead, Default));
        }

        kinds.Should().Equal(TransitionKind.SlaBreached, TransitionKind.TierChanged, TransitionKind.Recycled);
        LeadTimeline.AdvanceTo(lead, T0.AddDays(400), Default).Emitted.Should().BeEmpty();
    }

    [Fact]
    public void Given_an_mql_light_When_nothing_happens_Then_it_has_no_sla()
    {
        // DESIGN.md: "MQL-Light (engagement only, weak fit: nurture, no sales touch)".
        var result = LeadTimeline.Replay(Default, [Engagement(Demo(T0, "d")), Engagement(Ev("form_submitted", T0, "contact_sales", "cs", "cs"))], T0.AddDays(1));

        result.Status.Tier.Should().Be(MqlTier.MqlLight);
        result.Status.Sla.Should().BeNull();
        result.Transitions.Should().ContainSingle();
    }

    [Fact]
    public void Given_published_transitions_When_a_late_event_changes_history_Then_the_update_names_the_superseded_ones_and_the_new_ones()
    {
        // The scheduler published the day-30 decay exit; then a pricing view on day 20 arrives late: the lead stays an MQL longer.
        var lead = Incremental([Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "demo"))]);
        var exit = LeadTimeline.AdvanceTo(lead, T0.AddDays(40), Default).Emitted.Single(t => t.Kind == TransitionKind.Recycled);

        var update = LeadTimeline.Record(lead, Engagement(Pricing(T0.AddDays(20), id: "late-pricing")), Default);

        update.Superseded.Should().ContainSingle().Which.Id.Should().Be(exit.Id);
        update.Emitted.Should().BeEmpty("at day 40 the lead (25 + (18.9 + 20)·2^(-2/3) = 49.5) is still an MQL");
        lead.Status.Stage.Should().Be(LifecycleStage.Mql);
        LeadTimeline.NextDue(lead, Default).Should().BeAfter(T0.AddDays(40));
    }

    [Fact]
    public void Given_more_inputs_than_the_kept_history_When_recorded_in_order_Then_the_result_equals_a_full_replay_and_as_of_before_the_checkpoint_is_out_of_range()
    {
        var model = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 4");
        var inputs = Enumerable.Range(0, 30).Select(i => Engagement(Pricing(T0.AddDays(i * 3), $"/p{i}", $"e{i}"))).Prepend(Profile(T0, GoodFit, "p")).ToArray();

        var lead = Incremental(inputs, model);
        var replay = LeadTimeline.Replay(model, inputs, inputs[^1].At);

        lead.Inputs.Count.Should().BeLessThan(8);
        lead.Status.Should().Be(replay.Status);
        lead.Transitions.Select(t => t.Id).Should().BeSubsetOf(replay.Transitions.Select(t => t.Id));
        lead.EarliestExactAsOf.Should().NotBeNull();
        FluentActions.Invoking(() => LeadTimeline.StatusAt(lead, T0, model)).Should().Throw<AsOfOutOfRangeException>();
    }

    [Fact]
    public void Given_a_history_compacted_several_times_When_a_late_input_newer_than_the_checkpoint_arrives_Then_it_replays_from_the_checkpoint_and_equals_a_full_replay()
    {
        // LeadLifecycle: "Exact: any arrival order of inputs not older than the checkpoint gives the transitions a
        // from-scratch replay gives." The checkpoint is folded in place on each compaction; a late input replays from it.
        var model = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 4");
        // Kinds in turn, each activity its own, so every input adds points and none is capped away.
        string[] kinds = ["webinar_attended", "content_downloaded", "email_clicked"];
        var inOrder = Enumerable.Range(0, 30).Select(i => Engagement(Ev(kinds[i % kinds.Length], T0.AddDays(i * 3), activity: $"a{i}", id: $"e{i}")))
            .Prepend(Profile(T0, GoodFit, "p")).ToList();
        var late = Engagement(Demo(T0.AddDays(86), "late-demo"));
        var lead = Incremental(inOrder, model);
        var checkpointAt = lead.EarliestExactAsOf!.Value;

        var update = LeadTimeline.Record(lead, late, model);
        var replay = LeadTimeline.Replay(model, [.. inOrder, late], inOrder[^1].At);

        checkpointAt.Should().BeAfter(T0.AddDays(60), "the 31 inputs were compacted past most of the history");
        late.At.Should().BeAfter(checkpointAt).And.BeBefore(inOrder[^1].At);
        var floor = lead.EarliestExactAsOf!.Value;
        update.Emitted.Concat(update.Superseded).Should().NotBeEmpty("a demo request between kept inputs changes the lead's history");
        lead.Status.Should().Be(replay.Status);
        // The head was replayed from the checkpoint: the instant its score decays out of the stage is the full replay's.
        replay.NextDueAt.Should().NotBeNull();
        LeadTimeline.NextDue(lead, model).Should().Be(replay.NextDueAt);
        lead.Transitions.Select(t => t.Id).Should().BeSubsetOf(replay.Transitions.Select(t => t.Id));
        lead.Transitions.Should().NotBeEmpty();
        foreach (var asOf in new[] { floor, late.At.AddHours(-1), late.At.AddHours(1), inOrder[^1].At, inOrder[^1].At.AddDays(20) })
        {
            LeadTimeline.StatusAt(lead, asOf, model).Should().Be(LeadTimeline.Replay(model, [.. inOrder, late], asOf).Status, $"as of {asOf:O}");
        }
    }

    [Fact]
    public void Given_a_hot_mql_When_its_fit_goes_and_it_is_demoted_to_mql_light_Then_its_deadline_is_dropped_and_never_breached()
    {
        // DESIGN.md: "MQL-Light (engagement only, weak fit: nurture, no sales touch)", "SLA: ... Hot MQL fastest".
        LeadInput[] inputs =
        [
            Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "demo")), Engagement(Ev("form_submitted", T0.AddMinutes(1), "contact_sales", id: "cs")),
            Profile(T0.AddHours(1), new LeadProfile(null, "Analyst", 3, null, null, null), "p2"),
        ];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(1));

        result.Transitions.Should().Contain(t => t.Kind == TransitionKind.TierChanged && t.ToTier == MqlTier.MqlLight && t.SlaDeadline == null);
        result.Transitions.Should().NotContain(t => t.Kind == TransitionKind.SlaBreached);
        result.Status.Sla.Should().BeNull();
    }
}
