using System.Text.Json;
using Marten;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// The projection against the pure library: what it writes to the outbox and the schedule for a stored history is
/// what <see cref="LeadTimeline.Replay"/> computes for that history, whatever order the events arrived in.
/// DESIGN.md: "Lifecycle: Lead -> MQL -> SAL (sales accepted) -> SQL -> converted; or recycled / disqualified, always
/// with a reason and a timestamp"; "a lead that goes cold loses points and can fall out of MQL (recycled to nurture)".
/// The scheduler is off here (its own tests are LifecycleScheduler*Tests): the histories are dated months ago.
/// </summary>
public sealed class LifecycleProjectionTests(ProjectionsWithoutSchedulerFixture host) : IClassFixture<ProjectionsWithoutSchedulerFixture>
{
    private static readonly ScoringModel Model = ScoringModel.Default;
    private static readonly DateTimeOffset T0 = new DateTimeOffset(DateTimeOffset.UtcNow.AddDays(-90).Date, TimeSpan.Zero);

    [Fact]
    public async Task A_lead_that_decays_between_events_is_recycled_at_the_computed_instant_in_any_arrival_order()
    {
        // The first finding: enter MQL, decay below the exit threshold, a small re-engagement at day 60.
        var inOrder = TestEnvironment.Unique("ordered");
        var reversed = TestEnvironment.Unique("reversed");
        var history = new (string Type, string Category, DateTimeOffset At)[]
        {
            ("page_viewed", "pricing", T0),
            ("form_submitted", "demo_request", T0.AddMinutes(1)),
            ("form_submitted", "contact_sales", T0.AddMinutes(2)),
            ("page_viewed", "blog", T0.AddDays(60)),
        };
        foreach (var e in history) await AppendAsync(inOrder, e.At, (e.Type, e.Category, $"{inOrder}-{e.At.UtcTicks}"));
        foreach (var e in history.Reverse()) await AppendAsync(reversed, e.At, (e.Type, e.Category, $"{reversed}-{e.At.UtcTicks}"));
        var a = await ProjectionProbe.ViewWhen(host.Store, inOrder, v => v.EventCount == 4);
        var b = await ProjectionProbe.ViewWhen(host.Store, reversed, v => v.EventCount == 4);

        var expected = Replay(inOrder, history, a.EvaluatedUntil!.Value);
        var published = Effective(await MessagesAsync(inOrder));
        published.Select(m => m.TransitionId).Should().Equal(expected.Transitions.Select(t => t.Id), "the projection publishes what a replay computes");
        published.Should().Contain(m => m.Type == LifecycleMessageTypes.LeadRecycled && m.TriggeringEventId == null
            && m.OccurredAt > T0 && m.OccurredAt < T0.AddDays(60), "the decay exit is dated when the score crossed, with no event");
        a.Stage.Should().Be(LifecycleStage.Recycled, "a re-engagement of a few points after the exit does not make an MQL again");

        var fromReversed = Effective(await MessagesAsync(reversed));
        fromReversed.Select(Shape).Should().Equal(published.Select(Shape), "the same events in reverse arrival order give the same transitions");
        b.Stage.Should().Be(a.Stage);
        b.EvaluatedUntil.Should().Be(a.EvaluatedUntil);
    }

    [Fact]
    public async Task Tier_promotions_are_transitions_and_a_profile_caused_change_is_dated_at_the_profile_update()
    {
        var lead = TestEnvironment.Unique("tier");
        // Engagement without fit: MQL-Light ("engagement only, weak fit: nurture, no sales touch").
        await AppendAsync(lead, T0, ("page_viewed", "pricing", $"{lead}-1"), ("form_submitted", "contact_sales", $"{lead}-2"));
        // Fit arrives: MQL (fit + engagement) at the profile's instant.
        await AppendProfileAsync(lead, T0.AddHours(1), $"{lead}-fit", "ceo@acme-corp.com", "CEO", 500, "Software", "US");
        // A demo request: Hot MQL ("demo request ... with fit: immediate attention").
        await AppendAsync(lead, T0.AddHours(2), ("form_submitted", "demo_request", $"{lead}-3"));
        // A competitor email found a day later: disqualified at that update, not earlier.
        await AppendProfileAsync(lead, T0.AddDays(1), $"{lead}-dq", "ceo@rivalscore.io", null, null, null, null);
        var view = await ProjectionProbe.ViewWhen(host.Store, lead, v => v.EventCount == 5);

        var messages = Effective(await MessagesAsync(lead));
        messages.Select(m => (m.Type, m.FromTier, m.Tier)).Should().StartWith(
        [
            (LifecycleMessageTypes.MqlCrossed, "None", "MqlLight"),
            (LifecycleMessageTypes.MqlTierChanged, "MqlLight", "Mql"),
            (LifecycleMessageTypes.MqlTierChanged, "Mql", "HotMql"),
        ]);
        messages[1].OccurredAt.Should().Be(T0.AddHours(1));
        messages[1].TriggeringEventId.Should().Be($"{lead}-fit");
        messages[1].SlaDeadline.Should().Be(T0.AddHours(1 + 24), "an MQL is followed up within 24 h");
        messages[2].SlaDeadline.Should().Be(T0.AddHours(2 + 4), "a Hot MQL within 4 h, the faster deadline wins");
        var dq = messages.Single(m => m.Type == LifecycleMessageTypes.LeadDisqualified);
        dq.OccurredAt.Should().Be(T0.AddDays(1), "a transition caused by a profile change is dated at that change");
        dq.Cause.Should().Be(new LifecycleCause("HardRule", "exclude_competitor"));
        dq.Reason.Should().Contain("Works for a competitor");
        messages.Should().OnlyContain(m => m.ModelId == Model.Id && m.ModelVersion == Model.Version);
        view.Stage.Should().Be(LifecycleStage.Disqualified);
        (await ScheduledAsync(lead)).Should().BeNull("nothing is due for a disqualified lead");
    }

    [Fact]
    public async Task An_MQL_has_its_next_due_instant_in_the_schedule_and_a_late_event_retracts_what_it_rewrote()
    {
        var lead = TestEnvironment.Unique("late");
        await AppendAsync(lead, T0, ("page_viewed", "pricing", $"{lead}-1"), ("form_submitted", "contact_sales", $"{lead}-2"));
        var mql = await ProjectionProbe.ViewWhen(host.Store, lead, v => v.EventCount == 2);
        mql.Stage.Should().Be(LifecycleStage.Mql);
        mql.NextDueAt.Should().NotBeNull();
        (await ScheduledAsync(lead)).Should().Be(mql.NextDueAt, "the projection writes the lead's next due instant with its view");

        // A competitor email dated before the crossing arrives late: the lead was never an MQL.
        await AppendProfileAsync(lead, T0.AddMinutes(-5), $"{lead}-early-dq", "someone@rivalscore.io", null, null, null, null);
        var view = await ProjectionProbe.ViewWhen(host.Store, lead, v => v.EventCount == 3);
        view.Stage.Should().Be(LifecycleStage.Disqualified);

        var all = await MessagesAsync(lead);
        var crossing = all.First(m => m.Type == LifecycleMessageTypes.MqlCrossed);
        all.Should().Contain(m => m.Type == LifecycleMessageTypes.TransitionRetracted && m.TransitionId == crossing.TransitionId,
            "a published crossing that no longer holds is retracted");
        Effective(all).Select(m => m.Type).Should().Equal(LifecycleMessageTypes.LeadDisqualified);
        (await ScheduledAsync(lead)).Should().BeNull();
    }

    private static TimelineResult Replay(string lead, (string Type, string Category, DateTimeOffset At)[] history, DateTimeOffset until) =>
        LeadTimeline.Replay(Model,
            history.Select(e => (LeadInput)new EngagementInput(new ScoringEvent($"{lead}-{e.At.UtcTicks}", e.Type, e.At, e.Category, null))),
            until);

    private static (string, DateTimeOffset, string?, string?, string?) Shape(LeadLifecycleMessage m) =>
        (m.Type, m.OccurredAt, m.FromStage, m.ToStage, m.Tier);

    /// <summary>Transitions published and not retracted, in publication order.</summary>
    private static List<LeadLifecycleMessage> Effective(List<LeadLifecycleMessage> messages)
    {
        var retracted = messages.Where(m => m.Type == LifecycleMessageTypes.TransitionRetracted).Select(m => m.TransitionId).ToHashSet();
        return messages.Where(m => m.Type != LifecycleMessageTypes.TransitionRetracted && !retracted.Contains(m.TransitionId)).ToList();
    }

    private async Task AppendAsync(string lead, DateTimeOffset at, params (string Type, string Category, string Id)[] events)
    {
        await using var session = host.Store.LightweightSession();
        session.Events.Append(lead, events.Select(e => (object)new EngagementRecorded(e.Id, e.Type, at, e.Category, null, "tests", null)).ToArray());
        await session.SaveChangesAsync();
    }

    private async Task AppendProfileAsync(
        string lead, DateTimeOffset at, string id, string? email, string? title, int? size, string? industry, string? country)
    {
        await using var session = host.Store.LightweightSession();
        session.Events.Append(lead, new ProfileUpdated(id, at, email, title, size, industry, country, null, "tests"));
        await session.SaveChangesAsync();
    }

    private async Task<List<LeadLifecycleMessage>> MessagesAsync(string lead)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select payload::text from {host.Schema}.{LifecycleOutbox.TableName} where lead_id = @lead order by position", connection);
        command.Parameters.AddWithValue("lead", lead);
        await using var reader = await command.ExecuteReaderAsync();
        var messages = new List<LeadLifecycleMessage>();
        while (await reader.ReadAsync()) messages.Add(JsonSerializer.Deserialize<LeadLifecycleMessage>(reader.GetString(0), ContractJson.Options)!);
        return messages;
    }

    private async Task<DateTimeOffset?> ScheduledAsync(string lead)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select due_at from {host.Schema}.{LifecycleSchedule.TableName} where lead_id = @lead", connection);
        command.Parameters.AddWithValue("lead", lead);
        return await command.ExecuteScalarAsync() is DateTime due ? new DateTimeOffset(due, TimeSpan.Zero) : null;
    }
}
