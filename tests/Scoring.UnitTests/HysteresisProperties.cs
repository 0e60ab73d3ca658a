using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

public class HysteresisProperties
{
    private static readonly (string Type, string? Category)[] Kinds =
    [
        ("page_viewed", "pricing"), ("form_submitted", "demo_request"), ("email_clicked", null), ("webinar_attended", null),
        ("trial_started", null), ("unsubscribed", null), ("sales_contacted", null),
    ];

    private static Arbitrary<(int Kind, int GapHours)[]> Sequences() =>
        Gen.ArrayOf(Gen.Zip(Gen.Choose(0, Kinds.Length - 1), Gen.Choose(0, 24 * 40))).ToArbitrary();

    [Property(MaxTest = 300)]
    public Property Given_any_event_sequence_When_the_stage_is_updated_after_each_event_Then_it_follows_enter_and_exit_thresholds_and_agrees_with_the_verdict() =>
        Prop.ForAll(Sequences(), steps =>
        {
            var state = LeadScoreState.Create(Default);
            state.ApplyProfile(GoodFit, Default);
            var at = T0;
            var wasMql = false;
            StageDirection? lastDirection = null;
            var actions = new List<(string Rule, DateTimeOffset At)>();
            var q = Default.Qualification;
            var i = 0;
            foreach (var (kind, gap) in steps)
            {
                at = at.AddHours(gap);
                var applied = state.Apply(new ScoringEvent($"e{i++}", Kinds[kind].Type, at, Kinds[kind].Category, $"a{i}"), Default);
                if (applied.Counted && applied.Points > 0) actions.Add((applied.RuleId!, at));
                var before = Scorer.Evaluate(state, Default, at);
                var (score, engagement) = (before.TotalScore, before.EngagementScore);
                var recent = actions.Where(a => a.At > at - q.ActionWindow).Select(a => a.Rule).Distinct().ToList();
                var engaged = recent.Count >= q.MinDistinctActions || recent.Any(q.HandRaisers.Contains);

                var transition = state.UpdateStage(at, Default);

                // DESIGN.md, Domain: threshold 50 / exit 40 (hysteresis), and "fit alone never qualifies or holds a lead".
                var expected = wasMql
                    ? score >= Default.ExitThreshold && engagement >= q.MinEngagementToStay
                    : score >= Default.EnterThreshold && engagement >= q.MinEngagementToEnter && engaged;
                if (state.IsMql != expected) return false.Label($"score {score} engagement {engagement} actions {recent.Count} wasMql {wasMql} isMql {state.IsMql}");
                if (Scorer.Evaluate(state, Default, at).IsMql != state.IsMql) return false.Label("verdict disagrees with stage");
                if ((transition is not null) != (wasMql != state.IsMql)) return false.Label("transition iff the stage changed");
                if (transition is not null)
                {
                    if (transition.Direction == lastDirection) return false.Label("transitions alternate");
                    if (transition.At > at) return false.Label("a transition is never in the future");
                    lastDirection = transition.Direction;
                }

                wasMql = state.IsMql;
            }

            return true.ToProperty();
        });
}
