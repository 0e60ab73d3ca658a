using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ScoringPlatform.Scoring.Lifecycle;
using static ScoringPlatform.Scoring.UnitTests.TestModels;
using static ScoringPlatform.Scoring.UnitTests.Lifecycle.LifecycleTestData;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>
/// Random histories (engagement, profile updates, sales actions) in random arrival order. DESIGN.md: "an event-sourced
/// lead-scoring and qualification platform ... keeps every event": the lifecycle is a function of the history and time.
/// </summary>
public class TimelineProperties
{
    private static readonly (string Type, string? Category)[] Kinds =
    [
        ("page_viewed", "pricing"), ("page_viewed", "blog"), ("page_viewed", "product"), ("form_submitted", "demo_request"),
        ("form_submitted", "contact_sales"), ("email_opened", null), ("email_clicked", null), ("webinar_attended", null),
        ("content_downloaded", null), ("sales_contacted", null), ("unsubscribed", null), ("trial_started", null),
    ];

    private static readonly LeadProfile[] Profiles =
    [
        GoodFit, PerfectFit, new("x@gmail.com", null, null, null, null, null), new("x@rivalscore.io", null, null, null, null, null),
        new("x@acme.com", "Marketing Coordinator", 20, "Farming", "BR", false), new("x@acme.com", "CTO", 400, "Software", "US", null),
    ];

    public sealed record Case(LeadInput[] Inputs, int[] ArrivalKeys, int AsOfMinutes)
    {
        public override string ToString() =>
            $"asOf=+{AsOfMinutes}min inputs=[{string.Join(", ", Inputs.Select(Describe))}] order=[{string.Join(",", ArrivalKeys)}]";

        private static string Describe(LeadInput i) => i switch
        {
            EngagementInput e => $"{e.Id}:{e.Event.Type}/{e.Event.Category}@{(e.At - T0).TotalMinutes}",
            ProfileInput p => $"{p.Id}:profile({p.Profile.Email},{p.Profile.JobTitle})@{(p.At - T0).TotalMinutes}",
            SalesInput s => $"{s.Id}:{s.Action.Kind}@{(s.At - T0).TotalMinutes}",
            _ => "?",
        };
    }

    private static Gen<LeadInput> InputGen(int index, bool sales) =>
        from kind in Gen.Choose(0, sales ? 9 : 7)
        from k in Gen.Elements(Kinds)
        from p in Gen.Elements(Profiles)
        from action in Gen.Elements(Enum.GetValues<SalesActionKind>())
        from day in Gen.Choose(0, 60)
        from minute in Gen.Choose(0, 1439)
        let at = T0.AddDays(day).AddMinutes(minute)
        select kind switch
        {
            <= 5 => Engagement(new ScoringEvent($"e{index}", k.Type, at, k.Category, $"a{index % 3}")),
            6 or 7 => Profile(at, p, $"p{index}"),
            _ => Sales(action, at, $"s{index}", reason: "because"),
        };

    internal static Arbitrary<Case> Cases(bool sales) =>
        (from count in Gen.Choose(0, 24)
         from inputs in Gen.CollectToArray(Enumerable.Range(0, count), i => InputGen(i, sales))
         from keys in Gen.ArrayOf(Gen.Choose(0, 1000), count)
         from asOf in Gen.Choose(0, 90 * 1440)
         select new Case(inputs, keys, asOf)).ToArbitrary();

    internal static IEnumerable<LeadInput> Arrival(Case c) => c.Inputs.Zip(c.ArrivalKeys).OrderBy(x => x.Second).Select(x => x.First);

    [Property(MaxTest = 200)]
    public Property Given_any_history_in_any_arrival_order_When_recorded_incrementally_Then_the_transitions_equal_a_replay_in_time_order_and_what_was_published_minus_what_was_superseded_is_that_list() =>
        Prop.ForAll(Cases(sales: true), c =>
        {
            var lead = LeadLifecycle.Create(Default);
            var published = new HashSet<string>();
            foreach (var input in Arrival(c))
            {
                var update = LeadTimeline.Record(lead, input, Default);
                foreach (var t in update.Superseded) published.Remove(t.Id).Should().BeTrue("only a published transition is superseded");
                foreach (var t in update.Emitted) published.Add(t.Id).Should().BeTrue("a transition is published once");
            }

            var until = c.Inputs.Length == 0 ? T0 : c.Inputs.Max(i => i.At);
            var replay = LeadTimeline.Replay(Default, c.Inputs, until);
            var replayIds = replay.Transitions.Select(t => t.Id).ToList();
            return (lead.Transitions.Select(t => t.Id).SequenceEqual(replayIds) && published.SetEquals(replayIds) && lead.Status == StatusAfterInputs(c))
                .Label($"incremental {lead.Transitions.Count} vs replay {replayIds.Count}; published {published.Count}");
        });

    [Property(MaxTest = 200)]
    public Property Given_any_history_When_asked_for_the_status_at_any_as_of_Then_it_equals_a_naive_replay_that_judges_at_each_input_and_at_as_of() =>
        Prop.ForAll(Cases(sales: false), c =>
        {
            var asOf = T0.AddMinutes(c.AsOfMinutes);
            var status = LeadTimeline.StatusAt(Default, c.Inputs, asOf);
            var lead = Incremental(Arrival(c));
            var fromStored = LeadTimeline.StatusAt(lead, asOf, Default);
            var (stage, tier) = Naive(c.Inputs, asOf);
            return (status.Stage == stage && status.Tier == tier && fromStored == status)
                .Label($"timeline {status.Stage}/{status.Tier}, stored {fromStored.Stage}/{fromStored.Tier}, naive {stage}/{tier}");
        });

    [Property(MaxTest = 300)]
    public Property Given_any_history_When_replayed_Then_mql_entries_and_exits_alternate_respect_the_thresholds_and_every_number_is_finite() =>
        Prop.ForAll(Cases(sales: true), c =>
        {
            var result = LeadTimeline.Replay(Default, c.Inputs, T0.AddDays(120));
            var inMql = false;
            var last = DateTimeOffset.MinValue;
            foreach (var t in result.Transitions)
            {
                if (!double.IsFinite(t.Scores.Total) || !double.IsFinite(t.Scores.Fit) || !double.IsFinite(t.Scores.Engagement)) return false.Label("finite scores");
                if (t.At < last) return false.Label("transitions in time order");
                last = t.At;
                if (string.IsNullOrWhiteSpace(t.Reason)) return false.Label("always with a reason");
                if (t.Kind == TransitionKind.MqlEntered)
                {
                    if (inMql) return false.Label("entered twice without exit");
                    // DESIGN.md: "Threshold: combined score >= 50 makes an MQL"
                    if (t.Cause.Kind == CauseKind.Threshold && t.Scores.Total < Default.EnterThreshold) return false.Label($"entered at {t.Scores.Total}");
                    inMql = true;
                }
                else if (t.From == LifecycleStage.Mql && t.To != LifecycleStage.Mql)
                {
                    if (!inMql) return false.Label("exit without entry");
                    // DESIGN.md: "No stage flipping: separate enter/exit thresholds (hysteresis)"
                    if (t.Cause.Kind == CauseKind.Threshold && t.Scores.Total >= Default.ExitThreshold) return false.Label($"exited at {t.Scores.Total}");
                    if (t.Cause.Kind == CauseKind.Engagement && t.Scores.Engagement >= Default.Qualification.MinEngagementToStay) return false.Label("engagement exit");
                    inMql = false;
                }
                else if (t.To == LifecycleStage.Mql && t.Kind is not (TransitionKind.TierChanged or TransitionKind.SlaBreached))
                {
                    return false.Label($"{t.Kind} into Mql");
                }
            }

            return (result.NextDueAt is null || result.NextDueAt > T0.AddDays(120)).Label("next due is after the instant asked");
        });

    private static LifecycleStatus StatusAfterInputs(Case c) =>
        c.Inputs.Length == 0 ? LifecycleStatus.Initial : LeadTimeline.Replay(Default, c.Inputs, c.Inputs.Max(i => i.At)).Status;

    /// <summary>
    /// Stage and tier without bisection: judge before and after each input and at asOf. Between inputs qualification and
    /// tier only fall, so judging at the end of a gap gives the stage a continuous watch would have.
    /// </summary>
    private static (LifecycleStage, MqlTier) Naive(IEnumerable<LeadInput> inputs, DateTimeOffset asOf)
    {
        var state = LeadScoreState.Create(Default);
        var stage = LifecycleStage.Lead;
        var tier = MqlTier.None;
        void Judge(DateTimeOffset t)
        {
            var v = Scorer.Evaluate(state, Default, t, stage == LifecycleStage.Mql, stage == LifecycleStage.Mql ? tier : MqlTier.None);
            if (v.Disqualification is not null) (stage, tier) = (LifecycleStage.Disqualified, MqlTier.None);
            else if (v.IsMql) (stage, tier) = (LifecycleStage.Mql, v.Tier);
            else if (stage == LifecycleStage.Mql) (stage, tier) = (LifecycleStage.Recycled, MqlTier.None);
            else if (stage == LifecycleStage.Disqualified) stage = LifecycleStage.Lead;
        }

        foreach (var input in LeadTimeline.Ordered(inputs).Where(i => i.At <= asOf))
        {
            Judge(input.At);
            if (input is EngagementInput e) state.Apply(e.Event, Default);
            if (input is ProfileInput p) state.ApplyProfile(p.Profile, Default, p.OccurredAt);
            Judge(input.At);
        }

        Judge(asOf);
        return (stage, tier);
    }
}
