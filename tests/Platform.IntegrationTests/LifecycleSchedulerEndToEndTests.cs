using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Projections.Lifecycle;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// The Projections host on the file clock: a lead qualifies, then with nothing else appended its SLA breaches and it is
/// recycled at the instants the pure lifecycle computes, each recorded once, across a restart while a transition is due.
/// </summary>
public sealed class LifecycleSchedulerEndToEndTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Qualified = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly string _schema = TestEnvironment.UniqueSchema("itsched");
    private readonly string _dir = Directory.CreateTempSubdirectory("e2e-clock-").FullName;
    private WebApplication? _app;
    private WebApplication? _replica;

    private string ClockFile => Path.Combine(_dir, "now");
    private IDocumentStore Store => _app!.Services.GetRequiredService<IDocumentStore>();

    public Task InitializeAsync()
    {
        FileTimeProvider.Write(ClockFile, Qualified);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        if (_replica is not null)
        {
            await _replica.StopAsync();
            await _replica.DisposeAsync();
        }

        await TestEnvironment.DropSchemaAsync(_schema);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_qualified_lead_breaches_its_SLA_and_is_recycled_at_the_computed_instants_once_each_across_a_restart()
    {
        // Given a Hot MQL (good fit, demo request) qualified at the clock's instant
        var lead = TestEnvironment.Unique("sched");
        var events = HotMqlEvents(lead);
        var expected = LeadTimeline.Replay(ScoringModel.Default, events.Select(e => LeadEventInputs.From(e)!), Qualified.AddYears(1)).Transitions;
        var sla = expected.Single(t => t.Kind == TransitionKind.SlaBreached).At;
        var recycled = expected.First(t => t.Kind == TransitionKind.Recycled).At;
        sla.Should().BeBefore(recycled, "the scenario needs the SLA deadline first");
        var timeDriven = expected.Where(t => t.At > Qualified).ToList();

        await StartAsync();
        await using (var session = Store.LightweightSession())
        {
            session.Events.Append(lead, events);
            await session.SaveChangesAsync();
        }

        await ProjectionProbe.ViewWhen(Store, lead, v => v.MqlEntries == 1 && v.Tier == MqlTier.HotMql);
        (await OutboxTypesAsync(lead)).Should().Equal(Types(expected.Where(t => t.At <= Qualified)));
        (await ScheduledAsync(lead)).Should().Be(LifecycleSchedule.CeilingToMicrosecond(timeDriven[0].At));

        // When the SLA deadline passes while Projections is down, and it starts again
        await StopAsync();
        var afterSla = sla.AddMinutes(1);
        FileTimeProvider.Write(ClockFile, afterSla);
        await StartAsync();

        // Then the breach is recorded at the deadline, and nothing later yet
        var dueBySla = Types(expected.Where(t => t.At <= afterSla));
        dueBySla.Should().Contain(LifecycleMessageTypes.SlaBreached).And.NotContain(LifecycleMessageTypes.LeadRecycled);
        (await OutboxWhen(lead, rows => rows.Count >= dueBySla.Count)).Should().Equal(dueBySla);
        var view = await ProjectionProbe.ViewWhen(Store, lead, v => v.EvaluatedUntil >= sla);
        view.Sla!.Breached.Should().BeTrue();
        view.Stage.Should().Be(LifecycleStage.Mql);

        // When the clock passes the decay exit, with nothing else appended
        var afterExit = recycled.AddMinutes(1);
        FileTimeProvider.Write(ClockFile, afterExit);

        // Then the lead is recycled at the computed instant, and every transition is in the outbox once
        view = await ProjectionProbe.ViewWhen(Store, lead, v => v.Stage == LifecycleStage.Recycled);
        view.StageSince.Should().Be(recycled);
        var all = Types(expected.Where(t => t.At <= afterExit));
        var rows = await OutboxWhen(lead, r => r.Contains(LifecycleMessageTypes.LeadRecycled));
        rows.Should().Equal(all);
        (await OutboxMessageIdsAsync(lead)).Should().OnlyHaveUniqueItems();
        (await ScheduledAsync(lead)).Should().BeNull("a recycled lead has nothing due");
        var ticks = await ProjectionProbe.CountAsync(
            $"select count(*) from {_schema}.mt_events where stream_id = @lead and type = 'lifecycle_clock_ticked'", ("lead", lead));
        ticks.Should().Be(timeDriven.Where(t => t.At <= afterExit).Select(t => t.At).Distinct().Count(),
            "one tick per due instant the lead went through");
    }

    [Fact]
    public async Task Two_Projections_replicas_record_each_due_transition_of_many_leads_once()
    {
        // Given two replicas (HotCold: one runs the projection, both run the scheduler) and leads qualified at the clock
        var leads = Enumerable.Range(0, 30).Select(_ => TestEnvironment.Unique("replicas")).ToList();
        var events = leads.ToDictionary(lead => lead, HotMqlEvents);
        var expected = events.ToDictionary(e => e.Key,
            e => LeadTimeline.Replay(ScoringModel.Default, e.Value.Select(x => LeadEventInputs.From(x)!), Qualified.AddYears(1)).Transitions);
        var until = expected.Values.SelectMany(t => t).Max(t => t.At).AddMinutes(1);
        _app = await StartReplicaAsync("HotCold");
        _replica = await StartReplicaAsync("HotCold");
        await using (var session = Store.LightweightSession())
        {
            foreach (var (lead, stream) in events) session.Events.Append(lead, stream);
            await session.SaveChangesAsync();
        }

        foreach (var lead in leads) await ProjectionProbe.ViewWhen(Store, lead, v => v.MqlEntries == 1);

        // When the clock passes every transition they will go through
        FileTimeProvider.Write(ClockFile, until);

        // Then each lead has each of its transitions once, and one tick per instant
        foreach (var lead in leads)
        {
            var want = Types(expected[lead]);
            want.Should().Contain(LifecycleMessageTypes.LeadRecycled);
            (await OutboxWhen(lead, r => r.Contains(LifecycleMessageTypes.LeadRecycled))).Should().Equal(want, $"lead {lead}");
        }

        foreach (var lead in leads)
        {
            (await ProjectionProbe.CountAsync(
                    $"select count(*) from {_schema}.mt_events where stream_id = @lead and type = 'lifecycle_clock_ticked'", ("lead", lead)))
                .Should().Be(expected[lead].Where(t => t.At > Qualified).Select(t => t.At).Distinct().Count(), $"lead {lead}");
        }

        (await ProjectionProbe.CountAsync($"select count(*) from {_schema}.lifecycle_schedule")).Should().Be(0);
    }

    private static object[] HotMqlEvents(string lead) =>
    [
        new ProfileUpdated($"{lead}-profile", Qualified, "ana@acme.io", "VP Engineering", 400, "software", "US", null, "tests"),
        new EngagementRecorded($"{lead}-0", "page_viewed", Qualified, "pricing", null, "tests", null),
        new EngagementRecorded($"{lead}-1", "form_submitted", Qualified, "demo_request", null, "tests", null),
        new EngagementRecorded($"{lead}-2", "form_submitted", Qualified, "contact_sales", null, "tests", null),
    ];

    private async Task StartAsync() => _app = await StartReplicaAsync("Solo");

    private Task<WebApplication> StartReplicaAsync(string daemonMode) =>
        ProjectionsHostFixture.StartAsync(_schema, settings: new Dictionary<string, string?>
        {
            [PlatformClock.FileKey] = ClockFile,
            [$"{LifecycleSchedulerOptions.Section}:PollInterval"] = "00:00:00.200",
            ["EventStore:DaemonMode"] = daemonMode,
        });

    private async Task StopAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    private static List<string> Types(IEnumerable<LifecycleTransition> transitions) =>
        transitions.Select(t => LeadScoreProjection.MessageType(t.Kind)).ToList();

    private Task<List<string>> OutboxWhen(string lead, Func<List<string>, bool> until) =>
        Eventually.Get(async () => (List<string>?)await OutboxTypesAsync(lead), until, TimeSpan.FromSeconds(60), $"the outbox rows of {lead}");

    private Task<List<string>> OutboxTypesAsync(string lead) =>
        ReadAsync($"select message_type from {_schema}.lifecycle_outbox where lead_id = @lead order by position", lead, r => r.GetString(0));

    private Task<List<Guid>> OutboxMessageIdsAsync(string lead) =>
        ReadAsync($"select message_id from {_schema}.lifecycle_outbox where lead_id = @lead", lead, r => r.GetGuid(0));

    private async Task<DateTimeOffset?> ScheduledAsync(string lead) =>
        (await ReadAsync($"select due_at from {_schema}.lifecycle_schedule where lead_id = @lead", lead, r => (DateTimeOffset?)r.GetFieldValue<DateTimeOffset>(0)))
        .SingleOrDefault();

    private static async Task<List<T>> ReadAsync<T>(string sql, string lead, Func<NpgsqlDataReader, T> read)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("lead", lead);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync()) rows.Add(read(reader));
        return rows;
    }
}
