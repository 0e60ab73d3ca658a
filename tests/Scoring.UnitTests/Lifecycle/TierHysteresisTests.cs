using ScoringPlatform.Scoring.Lifecycle;
using static ScoringPlatform.Scoring.UnitTests.TestModels;
using static ScoringPlatform.Scoring.UnitTests.Lifecycle.LifecycleTestData;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>DESIGN.md: "No stage flipping: separate enter/exit thresholds (hysteresis) so a lead does not bounce" — for tiers too.</summary>
public class TierHysteresisTests
{
    // Title 15 + size 10 + geography 5 = 30, grade B (20).
    private static readonly LeadProfile FitB = new("ana@acme.com", "VP Marketing", 500, null, "DE", null);     // 15 + 10 + 5 = 30

    [Fact]
    public void Given_an_mql_When_its_fit_falls_just_below_grade_b_Then_it_stays_an_mql_within_the_margin_and_a_newcomer_with_that_fit_is_mql_light()
    {
        // Fit after the update: size 10 + geography 5 = 15 (grade C, 5 below B = 20: inside fitMarginToDemote 5).
        var update = new LeadProfile(null, "Marketing Manager", null, null, null, null);
        LeadInput[] inputs =
        [
            Profile(T0, FitB, "p0"), Engagement(Pricing(T0, id: "pricing")), Engagement(Ev("webinar_attended", T0, id: "webinar")),
            Engagement(Ev("trial_started", T0, id: "trial")), Profile(T0.AddDays(1), update, "p1"),
        ];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(1));

        result.Transitions.First().ToTier.Should().Be(MqlTier.Mql);
        result.Status.Tier.Should().Be(MqlTier.Mql, "within 5 points of grade B an MQL is not demoted");
        result.Transitions.Should().NotContain(t => t.Kind == TransitionKind.TierChanged);

        var newcomer = LeadTimeline.Replay(Default, [Profile(T0, FitB with { JobTitle = "Marketing Manager" }, "p"), inputs[1], inputs[2], inputs[3]], T0);
        newcomer.Status.Tier.Should().Be(MqlTier.MqlLight, "entering needs grade B itself");
    }

    [Fact]
    public void Given_an_mql_When_its_fit_falls_beyond_the_margin_Then_it_is_demoted_to_mql_light_at_the_profile_update()
    {
        // Fit after the update: geography 5 only (grade C, 15 below B).
        var update = new LeadProfile(null, "Marketing Manager", 20, null, null, null);
        LeadInput[] inputs =
        [
            Profile(T0, FitB, "p0"), Engagement(Pricing(T0, id: "pricing")), Engagement(Ev("webinar_attended", T0, id: "webinar")),
            Engagement(Ev("trial_started", T0, id: "trial")), Profile(T0.AddDays(1), update, "p1"),
        ];

        var result = LeadTimeline.Replay(Default, inputs, T0.AddDays(1));

        var demotion = result.Transitions.Last();
        (demotion.Kind, demotion.FromTier, demotion.ToTier, demotion.At, demotion.TriggeringInputId)
            .Should().Be((TransitionKind.TierChanged, MqlTier.Mql, MqlTier.MqlLight, T0.AddDays(1), "p1"));
        demotion.Reason.Should().Contain("demoted");
    }
}
