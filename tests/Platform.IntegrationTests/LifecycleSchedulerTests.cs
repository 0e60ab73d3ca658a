using Marten;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Projections.Lifecycle;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>The scheduler alone on a real event store (no projection runs, so nothing re-schedules behind it).</summary>
public sealed class LifecycleSchedulerTests(StoreFixture fixture) : IClassFixture<StoreFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2027, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("scheduler-clock-").FullName;

    public Task InitializeAsync() => fixture.ExecuteAsync("delete from {schema}.lifecycle_schedule");

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Each_due_row_becomes_one_tick_at_its_due_instant_and_is_removed_while_rows_not_yet_due_stay()
    {
        var due = TestEnvironment.Unique("due");
        var alsoDue = TestEnvironment.Unique("due");
        var later = TestEnvironment.Unique("later");
        // Sub-microsecond instants are what the projection computes; the table keeps them rounded up.
        var dueAt = LifecycleSchedule.CeilingToMicrosecond(Now.AddMinutes(-5).AddTicks(3));
        await ScheduleAsync(due, dueAt);
        await ScheduleAsync(alsoDue, Now);
        await ScheduleAsync(later, Now.AddTicks(10));

        var round = await Scheduler(TimeProvider.System).WorkDueAsync(Now, CancellationToken.None);

        round.Should().Be(new SchedulerRound(Claimed: 2, Appended: 2, Duplicates: 0, Failed: 0));
        await using var session = fixture.Store.QuerySession();
        var events = await session.Events.FetchStreamAsync(due);
        events.Should().ContainSingle();
        events[0].Data.Should().Be(new LifecycleClockTicked(dueAt));
        events[0].Id.Should().Be(LifecycleSchedule.TickEventId(due, dueAt));
        (await TicksAsync(alsoDue)).Should().Be(1);
        (await TicksAsync(later)).Should().Be(0);
        (await ScheduledAsync()).Should().Equal([(later, Now.AddTicks(10))]);
    }

    [Fact]
    public async Task A_round_takes_the_earliest_due_rows_up_to_the_batch_size()
    {
        var leads = Enumerable.Range(0, 5).Select(i => (Lead: TestEnvironment.Unique($"batch{i}"), At: Now.AddMinutes(-10 + i))).ToList();
        foreach (var (lead, at) in leads.AsEnumerable().Reverse()) await ScheduleAsync(lead, at);

        var round = await Scheduler(TimeProvider.System, batchSize: 2).WorkDueAsync(Now, CancellationToken.None);

        round.Claimed.Should().Be(2);
        foreach (var (lead, _) in leads.Take(2)) (await TicksAsync(lead)).Should().Be(1);
        foreach (var (lead, _) in leads.Skip(2)) (await TicksAsync(lead)).Should().Be(0);
        (await ScheduledAsync()).Select(r => r.Lead).Should().BeEquivalentTo(leads.Skip(2).Select(l => l.Lead));
    }

    [Fact]
    public async Task Two_schedulers_working_the_same_due_rows_record_each_tick_exactly_once()
    {
        const int rows = 400;
        var prefix = TestEnvironment.Unique("two");
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        for (var i = 0; i < rows; i++) await ScheduleAsync($"{prefix}-{i}", start.AddMilliseconds(i));
        var first = Scheduler(TimeProvider.System, batchSize: 25);
        var second = Scheduler(TimeProvider.System, batchSize: 25);

        // Rounds of both, at once, as two replicas' loops would run them; then both as hosted loops.
        var rounds = await Task.WhenAll(
            first.WorkDueAsync(DateTimeOffset.UtcNow, CancellationToken.None), second.WorkDueAsync(DateTimeOffset.UtcNow, CancellationToken.None));
        rounds.Sum(r => r.Claimed).Should().Be(50, "skip locked hands each replica rows the other has not claimed");
        await first.StartAsync(CancellationToken.None);
        await second.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.Get<long?>(() => CountAsync($"select count(*) from {fixture.Schema}.lifecycle_schedule where lead_id like '{prefix}-%'"),
                n => n == 0, TimeSpan.FromSeconds(60), "the due rows to be worked");
        }
        finally
        {
            await first.StopAsync(CancellationToken.None);
            await second.StopAsync(CancellationToken.None);
        }

        (await CountAsync($"select count(*) from {fixture.Schema}.mt_events where type = 'lifecycle_clock_ticked' and stream_id like '{prefix}-%'"))
            .Should().Be(rows);
        (await CountAsync($"select count(distinct stream_id) from {fixture.Schema}.mt_events where type = 'lifecycle_clock_ticked' and stream_id like '{prefix}-%'"))
            .Should().Be(rows);
    }

    [Fact]
    public async Task A_tick_appended_before_a_crash_left_its_row_is_not_appended_again_and_the_row_is_removed()
    {
        var crashed = TestEnvironment.Unique("crashed");
        var fresh = TestEnvironment.Unique("fresh");
        var dueAt = Now.AddMinutes(-1);
        // The earlier attempt: tick appended (same deterministic id), then the process died before deleting the row.
        await using (var session = fixture.Store.LightweightSession())
        {
            var action = session.Events.Append(crashed, new LifecycleClockTicked(dueAt));
            action.Events[0].Id = LifecycleSchedule.TickEventId(crashed, dueAt);
            await session.SaveChangesAsync();
        }

        await ScheduleAsync(crashed, dueAt);
        await ScheduleAsync(fresh, dueAt);

        var round = await Scheduler(TimeProvider.System).WorkDueAsync(Now, CancellationToken.None);

        round.Should().Be(new SchedulerRound(Claimed: 2, Appended: 1, Duplicates: 1, Failed: 0),
            "the batch falls back to one lead at a time, so the lead already ticked does not hold up the other");
        (await TicksAsync(crashed)).Should().Be(1);
        (await TicksAsync(fresh)).Should().Be(1);
        (await ScheduledAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task On_the_file_clock_a_row_is_worked_only_once_the_clock_passes_its_due_instant()
    {
        var clockFile = Path.Combine(_dir, "now");
        FileTimeProvider.Write(clockFile, Now);
        var clock = new FileTimeProvider(clockFile);
        var sentinel = TestEnvironment.Unique("sentinel");
        var future = TestEnvironment.Unique("future");
        await ScheduleAsync(sentinel, Now.AddSeconds(-1));
        await ScheduleAsync(future, Now.AddMinutes(10));
        var scheduler = Scheduler(clock);

        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.Get<long?>(() => TicksAsync(sentinel), n => n == 1, TimeSpan.FromSeconds(30), "the sentinel's tick");
            (await TicksAsync(future)).Should().Be(0, "the clock has not reached it");
            (await ScheduledAsync()).Should().Equal([(future, Now.AddMinutes(10))]);

            FileTimeProvider.Write(clockFile, Now.AddMinutes(10));
            await Eventually.Get<long?>(() => TicksAsync(future), n => n == 1, TimeSpan.FromSeconds(30), "the tick once the clock reached it");
            await Eventually.Get<long?>(() => CountAsync($"select count(*) from {fixture.Schema}.lifecycle_schedule"), n => n == 0,
                TimeSpan.FromSeconds(30), "the worked row to be removed");
            scheduler.DueLag.Should().Be(TimeSpan.Zero);
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task After_its_connection_to_PostgreSQL_is_killed_the_scheduler_reconnects_and_works_new_due_rows()
    {
        var clockFile = Path.Combine(_dir, "now");
        FileTimeProvider.Write(clockFile, Now);
        var scheduler = Scheduler(new FileTimeProvider(clockFile));
        var before = TestEnvironment.Unique("before");
        var after = TestEnvironment.Unique("after");
        await ScheduleAsync(before, Now.AddSeconds(-1));
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.Get<long?>(() => TicksAsync(before), n => n == 1, TimeSpan.FromSeconds(30), "the first tick");

            var killed = await CountAsync(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = @name and datname = current_database()",
                ("name", LifecycleScheduler.ListenerApplicationName(fixture.Schema)));
            killed.Should().Be(1, "the scheduler listens on one connection of its own");
            await ScheduleAsync(after, Now.AddSeconds(-1));

            await Eventually.Get<long?>(() => TicksAsync(after), n => n == 1, TimeSpan.FromSeconds(30), "a tick after the reconnect");
            await Eventually.Get<long?>(() => CountAsync(
                    "select count(*) from pg_stat_activity where application_name = @name and datname = current_database()",
                    ("name", LifecycleScheduler.ListenerApplicationName(fixture.Schema))),
                n => n == 1, TimeSpan.FromSeconds(30), "the scheduler listening again");
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_lead_the_store_refuses_stays_due_without_holding_up_the_others_and_shows_as_due_lag()
    {
        var clockFile = Path.Combine(_dir, "now");
        FileTimeProvider.Write(clockFile, Now);
        var scheduler = Scheduler(new FileTimeProvider(clockFile));
        var refused = TestEnvironment.Unique("refused");
        var fine = TestEnvironment.Unique("fine");
        var constraint = $"refuse_{Guid.NewGuid():N}";
        await fixture.ExecuteAsync($"alter table {{schema}}.mt_events add constraint {constraint} check (stream_id <> '{refused}')");
        try
        {
            await ScheduleAsync(refused, Now.AddMinutes(-5));
            await ScheduleAsync(fine, Now.AddMinutes(-5));

            var round = await scheduler.WorkDueAsync(Now, CancellationToken.None);

            round.Should().Be(new SchedulerRound(Claimed: 2, Appended: 1, Duplicates: 0, Failed: 1));
            (await TicksAsync(fine)).Should().Be(1);
            (await ScheduledAsync()).Should().Equal([(refused, Now.AddMinutes(-5))]);
            scheduler.DueLag.Should().Be(TimeSpan.Zero, "nothing has been looked at by the loop yet");
            await scheduler.StartAsync(CancellationToken.None);
            try
            {
                await Eventually.Get<TimeSpan?>(() => Task.FromResult<TimeSpan?>(scheduler.DueLag), lag => lag == TimeSpan.FromMinutes(5),
                    TimeSpan.FromSeconds(30), "the due lag of the refused row");
                var health = await new LifecycleSchedulerHealthCheck(scheduler, Options.Create(new LifecycleSchedulerOptions()))
                    .CheckHealthAsync(new HealthCheckContext());
                health.Status.Should().Be(HealthStatus.Degraded, "the row has been due 5 minutes, beyond the 60 s allowed");
                health.Description.Should().Contain("300 s");

                // 30 s due is within the limit.
                FileTimeProvider.Write(clockFile, Now.AddMinutes(-4.5));
                await Eventually.Get<string>(async () => (await new LifecycleSchedulerHealthCheck(scheduler, Options.Create(new LifecycleSchedulerOptions()))
                    .CheckHealthAsync(new HealthCheckContext())).Status.ToString(), status => status == nameof(HealthStatus.Healthy),
                    TimeSpan.FromSeconds(30), "readiness once the row is due 30 s");
            }
            finally
            {
                await scheduler.StopAsync(CancellationToken.None);
            }
        }
        finally
        {
            await fixture.ExecuteAsync($"alter table {{schema}}.mt_events drop constraint {constraint}");
        }
    }

    [Fact]
    public async Task Ticks_and_ingestion_appends_to_the_same_leads_at_once_never_collide_so_no_sequence_number_is_burnt()
    {
        // Marten's quick append reads a stream's version unlocked and bumps the stream row after inserting; Ingestion's
        // set-based append bumps the row first. Run at once on one stream, they collided: a duplicate (stream, version)
        // or a deadlock rolled one back, and the sequence numbers it took left a gap the daemon's high-water mark waits
        // out before moving on (seen as a 4 s stall in the bench's soak). The scheduler now takes Ingestion's identity
        // locks first, so the two take turns.
        var start = await CountAsync($"select coalesce(max(seq_id), 0) from {fixture.Schema}.mt_events") ?? 0;
        var appender = fixture.Appender(new Ingestion.Consuming.IngestionOptions { AppendConcurrency = 2 });
        var scheduler = Scheduler(TimeProvider.System);
        var leads = Enumerable.Range(0, 12).Select(i => TestEnvironment.Unique($"race{i}")).ToList();
        const int rounds = 25;
        var ticks = 0;
        for (var round = 0; round < rounds; round++)
        {
            var dueAt = Now.AddMinutes(-rounds + round);
            foreach (var lead in leads) await ScheduleAsync(lead, dueAt);
            var batch = leads.SelectMany(lead => Enumerable.Range(0, 3).Select(i => new Ingestion.Consuming.PendingEvent(
                lead, EventIds.FromSourceId($"{lead}-{round}-{i}"),
                new EngagementRecorded($"{lead}-{round}-{i}", "page_viewed", Now.AddMinutes(-rounds + round), "pricing", null, "tests", null), null))).ToList();

            var ingest = appender.AppendAsync(batch, CancellationToken.None);
            var tick = scheduler.WorkDueAsync(Now, CancellationToken.None);
            await Task.WhenAll(ingest, tick);

            (await ingest).Appended.Should().Be(batch.Count);
            (await tick).Failed.Should().Be(0);
            ticks += (await tick).Appended;
        }

        ticks.Should().Be(rounds * leads.Count);
        foreach (var lead in leads) (await fixture.CountEventsAsync(lead)).Should().Be(rounds * 4, "each round stores 3 engagement events and 1 tick per lead");
        (await CountAsync($"select max(seq_id) - {start} - count(*) from {fixture.Schema}.mt_events where seq_id > {start}"))
            .Should().Be(0, "no append was rolled back after taking sequence numbers");
    }

    private LifecycleScheduler Scheduler(TimeProvider clock, int batchSize = 500) => new(
        fixture.Store,
        Options.Create(new EventStoreOptions { ConnectionString = TestEnvironment.PostgresConnectionString, Schema = fixture.Schema }),
        Options.Create(new LifecycleSchedulerOptions { BatchSize = batchSize, PollInterval = TimeSpan.FromMilliseconds(100) }),
        clock,
        NullLogger<LifecycleScheduler>.Instance);

    private Task ScheduleAsync(string lead, DateTimeOffset dueAt) =>
        ExecuteAsync($"insert into {fixture.Schema}.lifecycle_schedule (lead_id, due_at) values (@lead, @due)", ("lead", lead), ("due", dueAt));

    private Task<long?> TicksAsync(string lead) =>
        CountAsync($"select count(*) from {fixture.Schema}.mt_events where stream_id = @lead and type = 'lifecycle_clock_ticked'", ("lead", lead));

    private async Task<List<(string Lead, DateTimeOffset DueAt)>> ScheduledAsync()
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select lead_id, due_at from {fixture.Schema}.lifecycle_schedule order by due_at", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, DateTimeOffset)>();
        while (await reader.ReadAsync()) rows.Add((reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1)));
        return rows;
    }

    private static async Task<long?> CountAsync(string sql, params (string Name, object Value)[] parameters) =>
        await ProjectionProbe.CountAsync(sql, parameters);

    private static async Task ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync();
    }
}
