using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;
using Xunit.Abstractions;

namespace ScoringPlatform.EndToEnd.Tests;

/// <summary>The platform with Projections and the Api on a clock the test moves (a file, <c>Clock__File</c>).</summary>
public sealed class ClockedPlatformFixture : PlatformFixture
{
    private readonly string _directory = Directory.CreateTempSubdirectory("scoring-clock-").FullName;

    /// <summary>Events are dated from here (in the past: ingestion accepts events up to a day ahead of the real clock).</summary>
    public DateTimeOffset T0 { get; } = new(DateTimeOffset.UtcNow.AddDays(-60).Date, TimeSpan.Zero);

    public override string? ClockFile => Path.Combine(_directory, "now");

    // Topics of this fixture only: every fixture's Ingestion consumes its engagement topic from the beginning, so on
    // the shared topics each would score (and publish for) the other's leads.
    private string RunId { get; } = "lc" + Guid.NewGuid().ToString("N")[..10];
    public override string EngagementTopic => $"{Topics.EngagementEvents}-{RunId}";
    public override string DeadLetterTopic => $"{Topics.EngagementEventsDeadLetter}-{RunId}";
    public override string LifecycleTopic => $"{Topics.LeadLifecycle}-{RunId}";

    public override async Task InitializeAsync()
    {
        SetClock(T0.AddMinutes(1));
        // The dev broker creates a topic on its first message: these exist before the services subscribe or publish.
        await Kafka.ProduceAsync(EngagementTopic, RunId, Events.Engagement(RunId, EngagementEventTypes.EmailOpened, T0, id: RunId + "-warmup"));
        await Kafka.ProduceRawAsync(DeadLetterTopic, "topic-created", "{}"u8.ToArray());
        await Kafka.ProduceRawAsync(LifecycleTopic, "topic-created", "{}"u8.ToArray());
        await base.InitializeAsync();
    }

    /// <summary>Rewrites the clock file atomically (write, then rename), in the format Clock__File reads (RFC 3339).</summary>
    public void SetClock(DateTimeOffset now)
    {
        var next = ClockFile + ".next";
        File.WriteAllText(next, now.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        File.Move(next, ClockFile!, overwrite: true);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>
/// The lifecycle end to end on real parts (Kafka protocol, PostgreSQL, gRPC and REST, three processes) with a clock the
/// test moves. DESIGN.md: "Lifecycle: Lead -> MQL -> SAL (sales accepted) -> SQL -> converted; or recycled /
/// disqualified, always with a reason and a timestamp. A lead can qualify more than once."; "a lead that goes cold loses
/// points and can fall out of MQL (recycled to nurture). Later re-engagement makes a reactivated MQL."; "SLA: sales
/// should follow up within a window (typically 4-24 h; Hot MQL fastest); a breach is an event."
/// One test, in steps, because the steps share the clock.
/// </summary>
public sealed class LifecycleEndToEndTests(ClockedPlatformFixture platform, ITestOutputHelper output) : IClassFixture<ClockedPlatformFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Funnel_decay_reactivation_and_SLA_breach_follow_events_feedback_and_the_clock_across_a_restart()
    {
        var t0 = platform.T0;
        var won = TestEnvironment.Unique("won");       // fit + demo request: Hot MQL, then sales take it to Converted
        var cold = TestEnvironment.Unique("cold");     // engagement without fit: MQL-Light, decays out, comes back
        var ignored = TestEnvironment.Unique("late");  // Hot MQL nobody follows up: SLA breach at the deadline
        foreach (var lead in new[] { won, ignored })
        {
            await ProduceAsync(Events.Profile(lead, t0.AddSeconds(-1), Events.FitTraits) with { Id = lead + "-fit" });
        }

        foreach (var lead in new[] { won, cold, ignored })
        {
            await ProduceAsync(Events.Engagement(lead, EngagementEventTypes.PageViewed, t0, PageCategories.Pricing, lead + "-pricing"));
            await ProduceAsync(Events.Engagement(lead, EngagementEventTypes.FormSubmitted, t0, lead == cold ? FormTypes.ContactSales : FormTypes.DemoRequest, lead + "-form"));
        }

        (await VerdictWhen(won, v => v.Stage == LeadStage.Mql)).Tier.Should().Be(MqlTier.HotMql);
        (await VerdictWhen(ignored, v => v.Stage == LeadStage.Mql)).Sla.Deadline.ToDateTimeOffset().Should().Be(t0.AddHours(4), "a Hot MQL is followed up within 4 h");
        (await VerdictWhen(cold, v => v.Stage == LeadStage.Mql)).Tier.Should().Be(MqlTier.MqlLight);

        // An illegal action is refused, names the stage and leaves no trace.
        var feedback = new SalesFeedback.SalesFeedbackClient(platform.Channel);
        var refused = await FluentActions.Awaiting(() => feedback.RecordSalesFeedbackAsync(Action(won, SalesActionType.Convert, "convert-too-early")).ResponseAsync)
            .Should().ThrowAsync<RpcException>();
        refused.Which.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        refused.Which.Status.Detail.Should().Contain("Mql");
        var rest = await platform.Rest.PostAsJsonAsync($"/v1/leads/{won}/feedback", new { action = "SALES_ACTION_TYPE_QUALIFY", actor = "rep@acme.com", idempotencyKey = "qualify-too-early" });
        rest.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await rest.Content.ReadAsStringAsync()).Should().Contain("Mql");
        var timeline = await new LeadQueries.LeadQueriesClient(platform.Channel).GetLeadTimelineAsync(new GetLeadTimelineRequest { LeadId = won });
        timeline.Events.Should().NotContain(e => e.Feedback != null, "a refused action writes nothing");

        // Lead -> MQL -> SAL -> SQL -> Converted, within the SLA; a retried call records once.
        (await feedback.RecordSalesFeedbackAsync(Action(won, SalesActionType.Accept, "accept-1"))).Stage.Should().Be(LeadStage.Sal);
        (await feedback.RecordSalesFeedbackAsync(Action(won, SalesActionType.Accept, "accept-1"))).Replay.Should().BeTrue();
        (await feedback.RecordSalesFeedbackAsync(Action(won, SalesActionType.Qualify, "qualify-1"))).Stage.Should().Be(LeadStage.Sql);
        var converted = Action(won, SalesActionType.Convert, "convert-1");
        converted.Amount = "12500.50";
        (await feedback.RecordSalesFeedbackAsync(converted)).Stage.Should().Be(LeadStage.Converted);

        // Projections crashes while the SLA deadline of the ignored lead is ahead; the clock passes it meanwhile.
        await platform.Services.Single(s => s.Name == "Projections").KillAsync();
        platform.SetClock(t0.AddHours(5));
        await platform.RestartAsync("Projections", platform.ProjectionsHealthPort);
        var breached = await VerdictWhen(ignored, v => v.Sla?.Breached == true);
        breached.Stage.Should().Be(LeadStage.Mql, "a breach is an event, not a stage");

        // Weeks later, with no event, the cold lead has decayed out; then it re-engages and is a reactivated MQL.
        platform.SetClock(t0.AddDays(40));
        await VerdictWhen(cold, v => v.Stage == LeadStage.Recycled);
        await ProduceAsync(Events.Engagement(cold, EngagementEventTypes.PageViewed, t0.AddDays(40), PageCategories.Pricing, cold + "-back-pricing"));
        await ProduceAsync(Events.Engagement(cold, EngagementEventTypes.FormSubmitted, t0.AddDays(40), FormTypes.ContactSales, cold + "-back-form"));
        (await VerdictWhen(cold, v => v.Stage == LeadStage.Mql)).MqlEntries.Should().Be(2);

        // What reached lead-lifecycle, read up to each lead's last expected message.
        var messages = Lifecycle([won, cold, ignored], seen =>
            Has(seen, won, LifecycleMessageTypes.LeadConverted) && Has(seen, ignored, LifecycleMessageTypes.LeadRecycled)
            && seen.Count(m => m.LeadId == cold && m.Type == LifecycleMessageTypes.MqlCrossed) == 2);
        messages.Select(m => (m.LeadId, m.TransitionId)).Should().OnlyHaveUniqueItems("each transition is recorded once, the restart included");

        Types(messages, won).Should().Equal(
            LifecycleMessageTypes.MqlCrossed, LifecycleMessageTypes.SalesAccepted, LifecycleMessageTypes.SalesQualified, LifecycleMessageTypes.LeadConverted);
        var sale = messages.Single(m => m.LeadId == won && m.Type == LifecycleMessageTypes.LeadConverted);
        (sale.Amount, sale.Actor, sale.Cause).Should().Be((12500.50m, "rep@acme.com", new LifecycleCause("SalesAction", "convert")));

        Types(messages, ignored).Should().StartWith([LifecycleMessageTypes.MqlCrossed, LifecycleMessageTypes.SlaBreached]);
        var breach = messages.Single(m => m.LeadId == ignored && m.Type == LifecycleMessageTypes.SlaBreached);
        breach.OccurredAt.Should().Be(t0.AddHours(4), "the breach is recorded at the deadline");
        breach.TriggeringEventId.Should().BeNull("time alone caused it");

        Types(messages, cold).Should().Equal(LifecycleMessageTypes.MqlCrossed, LifecycleMessageTypes.LeadRecycled, LifecycleMessageTypes.MqlCrossed);
        var decayed = messages.Single(m => m.LeadId == cold && m.Type == LifecycleMessageTypes.LeadRecycled);
        decayed.TriggeringEventId.Should().BeNull("recycled at the computed instant, with no event");
        decayed.OccurredAt.Should().BeAfter(t0).And.BeBefore(t0.AddDays(40));
        decayed.Cause!.Kind.Should().BeOneOf("Threshold", "Engagement");
        messages.Last(m => m.LeadId == cold).Reactivated.Should().BeTrue("later re-engagement makes a reactivated MQL");
    }

    private RecordSalesFeedbackRequest Action(string lead, SalesActionType action, string key) => new()
    {
        LeadId = lead,
        Action = action,
        Actor = "rep@acme.com",
        IdempotencyKey = key,
    };

    private Task ProduceAsync(EngagementEvent e) => platform.Kafka.ProduceAsync(platform.EngagementTopic, e.LeadId!, e);

    private Task<Verdict> VerdictWhen(string lead, Func<Verdict, bool> until) => platform.VerdictWhen(lead, until, Wait);

    /// <summary>
    /// Reads the lifecycle topic until <paramref name="done"/>; returns each lead's messages once per message id (delivery is
    /// at least once: a relay killed between the publish and the mark sends again), in the order of their sequence header.
    /// </summary>
    private List<LeadLifecycleMessage> Lifecycle(string[] leads, Func<List<LeadLifecycleMessage>, bool> done)
    {
        var found = platform.Kafka.ConsumeUntil(platform.LifecycleTopic, r => leads.Contains(r.Message.Key),
            seen => done(seen.Select(Parse).ToList()), Wait);
        found.Should().OnlyContain(r => KafkaTestClient.Header(r, Headers.Sequence) != null, "every lifecycle message carries its sequence");
        foreach (var lead in leads)
        {
            var seen = new HashSet<string>();
            found.Where(r => r.Message.Key == lead && seen.Add(KafkaTestClient.Header(r, Headers.MessageId)!))
                .Select(r => long.Parse(KafkaTestClient.Header(r, Headers.Sequence)!, CultureInfo.InvariantCulture))
                .Should().BeInAscendingOrder($"lead {lead}'s messages first arrive in the order they were recorded (copies sent again come later)");
        }

        var distinct = found
            .Select(r => (Sequence: long.Parse(KafkaTestClient.Header(r, Headers.Sequence)!, CultureInfo.InvariantCulture), Message: Parse(r)))
            .GroupBy(x => x.Message.MessageId)
            .Select(g =>
            {
                g.Select(x => x.Sequence).Distinct().Should().ContainSingle("a message sent again keeps its sequence");
                g.Select(x => x.Message).Distinct().Should().ContainSingle("a message sent again is the same message");
                return g.First();
            })
            .OrderBy(x => x.Sequence)
            .Select(x => x.Message)
            .ToList();
        output.WriteLine($"lifecycle deliveries: {found.Count}, distinct messages: {distinct.Count}");
        return distinct;
    }

    private static LeadLifecycleMessage Parse(Confluent.Kafka.ConsumeResult<string, byte[]> r) =>
        JsonSerializer.Deserialize<LeadLifecycleMessage>(r.Message.Value, ContractJson.Options)!;

    private static bool Has(List<LeadLifecycleMessage> seen, string lead, string type) => seen.Any(m => m.LeadId == lead && m.Type == type);

    private static List<string> Types(List<LeadLifecycleMessage> messages, string lead) =>
        messages.Where(m => m.LeadId == lead).Select(m => m.Type).ToList();
}
