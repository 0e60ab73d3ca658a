using Marten;
using Microsoft.AspNetCore.Builder;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// The stream-ordered catch-up writes in one transaction with the progression move: a crash or a lost connection before
/// the commit leaves nothing, another writer moving the progression first rolls it back, and the run after a failure
/// writes what the daemon writes, each message once. (Its rows against Marten's projection: LeadScoreLiveProjectionTests.)
/// </summary>
public sealed class StreamOrderedCatchUpTests : IAsyncLifetime
{
    private readonly StoreFixture _fixture = new();
    private string Schema => _fixture.Schema;
    private DocumentStore Store => _fixture.Store;
    private WebApplication? _app;

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await _fixture.DisposeAsync();
    }

    private StreamOrderedCatchUp CatchUp(Func<Task>? beforeCommit = null) =>
        new(Store, _fixture.Model, Schema, TestEnvironment.PostgresConnectionString) { BeforeCommit = beforeCommit };

    [Fact]
    public async Task Given_a_crash_and_a_lost_connection_before_the_commit_Then_nothing_is_written_and_the_next_runs_write_what_the_daemon_writes()
    {
        await StreamOrderedRebuildTests.SeedAsync(Store, 12);
        // The daemon's rows for the same events, kept for the comparison, then the projection reset to nothing.
        await RunDaemonAsync();
        var daemonViews = await RowsAsync(Views);
        var daemonOutbox = await RowsAsync(Outbox);
        var daemonSchedule = await RowsAsync(Schedule);
        daemonOutbox.Should().Contain(r => r.Contains(LifecycleMessageTypes.MqlCrossed), "the seed has crossings to publish");
        await ResetAsync();

        await FluentActions.Awaiting(() => CatchUp(() => throw new IOException("simulated crash before the commit")).RunAsync(1, CancellationToken.None))
            .Should().ThrowAsync<IOException>();
        await NothingWrittenAsync("after a crash before the commit");

        // The database side goes away with the transaction open (as in a restart): the connection is terminated.
        var killed = 0L;
        await FluentActions.Awaiting(() => CatchUp(async () => killed = await ScalarAsync<long>(
                "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity " +
                $"where state = 'idle in transaction' and query like '%{Schema}.%' and pid <> pg_backend_pid()) t")).RunAsync(1, CancellationToken.None))
            .Should().ThrowAsync<NpgsqlException>();
        killed.Should().Be(1, "the catch-up's own connection held the transaction");
        await NothingWrittenAsync("after the connection was lost before the commit");

        // Two rounds: the first up to a limit below the high-water mark (committed), the second from there; leads with
        // events on both sides of the limit are folded on from the view the first round wrote.
        var highWater = await ScalarAsync<long>($"select max(seq_id) from {Schema}.mt_events");
        var first = await CatchUp().RunAsync(1, CancellationToken.None, roundLimit: highWater / 2);
        first.Outcome.Should().Be(CatchUpOutcome.CaughtUp);
        (first.From, first.Ceiling, first.HighWater).Should().Be((0L, highWater / 2, highWater));
        (await ProgressAsync()).Should().Be(highWater / 2);
        var second = await CatchUp().RunAsync(1, CancellationToken.None);
        second.Outcome.Should().Be(CatchUpOutcome.CaughtUp);
        (second.From, second.Ceiling).Should().Be((highWater / 2, highWater));
        (first.Events + second.Events).Should().Be(await ScalarAsync<long>($"select count(*) from {Schema}.mt_events"));
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_events where seq_id > {highWater / 2} and stream_id in " +
                                 $"(select stream_id from {Schema}.mt_events where seq_id <= {highWater / 2})")).Should().BePositive("leads straddle the limit");
        (await ProgressAsync()).Should().Be(highWater);
        (await RowsAsync(Views)).Should().Equal(daemonViews, "the documents the daemon writes");
        (await RowsAsync(Outbox)).Should().Equal(daemonOutbox, "each lifecycle message once, in the daemon's order per lead");
        (await RowsAsync(Schedule)).Should().Equal(daemonSchedule);

        // Nothing left: a second run finds the projection current.
        (await CatchUp().RunAsync(1, CancellationToken.None)).Outcome.Should().Be(CatchUpOutcome.NotBehind);
    }

    [Fact]
    public async Task Given_another_writer_moves_the_progression_meanwhile_Then_the_catch_up_rolls_back()
    {
        await StreamOrderedRebuildTests.SeedAsync(Store, 6);
        var result = await CatchUp(() => _fixture.ExecuteAsync(
                "insert into {schema}.mt_event_progression (name, last_seq_id, last_updated) values ('LeadScore:All', 3, now())"))
            .RunAsync(1, CancellationToken.None);

        result.Outcome.Should().Be(CatchUpOutcome.Overtaken);
        result.Events.Should().BePositive("it read and folded the backlog before it found out");
        (await ProgressAsync()).Should().Be(3, "the other writer's progression stands");
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_doc_leadscoreview")).Should().Be(0);
        (await ScalarAsync<long>($"select count(*) from {Schema}.lifecycle_outbox")).Should().Be(0);
    }

    [Fact]
    public async Task Given_a_backlog_under_the_threshold_Then_nothing_runs()
    {
        await StreamOrderedRebuildTests.SeedAsync(Store, 4);
        var events = await ScalarAsync<long>($"select count(*) from {Schema}.mt_events");

        var result = await CatchUp().RunAsync(events + 1, CancellationToken.None);

        result.Outcome.Should().Be(CatchUpOutcome.NotBehind);
        (await ProgressAsync()).Should().Be(-1, "no progression row was written");
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_doc_leadscoreview")).Should().Be(0);
    }

    [Theory]
    [InlineData(1_000, 1)]
    [InlineData(0, 2)]
    public async Task Given_Projections_starts_behind_Then_it_catches_up_stream_ordered_before_the_daemon_unless_turned_off(long threshold, int fewestWrites)
    {
        // 100 leads with one early event, then 200 leads with 12 each: 2,500 events, more than one daemon page
        // (LeadEventStore.LiveBatchSize = 2,000), and the early leads' views are written by the first page only.
        var at = DateTimeOffset.UtcNow.AddDays(-1);
        await AppendRoundAsync(Enumerable.Range(0, 100).Select(i => $"early-{i}"), 0);
        for (var round = 0; round < 12; round++) await AppendRoundAsync(Enumerable.Range(0, 200).Select(i => $"lead-{i}"), round);

        _app = await ProjectionsHostFixture.StartAsync(Schema, settings: new Dictionary<string, string?>
        {
            ["Projections:StreamOrderedCatchUpThreshold"] = threshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Lifecycle:Scheduler:Enabled"] = "false",
        });

        var highWater = await ScalarAsync<long>($"select max(seq_id) from {Schema}.mt_events");
        await Eventually.Get(ProgressAsync, p => p == highWater, TimeSpan.FromSeconds(60), "the projection to reach the high-water mark");
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_doc_leadscoreview where (data ->> 'EventCount')::int = 12")).Should().Be(200);
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_doc_leadscoreview where (data ->> 'EventCount')::int = 1")).Should().Be(100);
        // One transaction writes every view with one modification time; the daemon's pages write at least two.
        var writes = await ScalarAsync<long>($"select count(distinct mt_last_modified) from {Schema}.mt_doc_leadscoreview");
        if (fewestWrites == 1) writes.Should().Be(1, "the catch-up wrote every view in one transaction before the daemon started");
        else writes.Should().BeGreaterThanOrEqualTo(fewestWrites, "with the catch-up off, the daemon's pages wrote the views");

        async Task AppendRoundAsync(IEnumerable<string> leads, int round)
        {
            await using var session = Store.LightweightSession();
            foreach (var lead in leads)
            {
                session.Events.Append(lead, new EngagementRecorded($"{lead}-{round}", round % 2 == 0 ? "page_viewed" : "email_opened", at.AddMinutes(round),
                    round % 2 == 0 ? "pricing" : null, null, "tests", null));
            }

            await session.SaveChangesAsync();
        }
    }

    private const string Views = "select (to_jsonb(d) - 'mt_last_modified')::text from {schema}.mt_doc_leadscoreview d order by id";

    private const string Outbox =
        "select (to_jsonb(o) - 'position' - 'created_at' - 'trace_parent')::text from {schema}.lifecycle_outbox o order by lead_id, position";

    private const string Schedule = "select (to_jsonb(s) - 'updated_at')::text from {schema}.lifecycle_schedule s order by lead_id";

    private async Task RunDaemonAsync()
    {
        using var daemon = await Store.BuildProjectionDaemonAsync();
        await daemon.StartAllAsync();
        await daemon.WaitForNonStaleData(TimeSpan.FromSeconds(120));
        await daemon.StopAllAsync();
    }

    private Task ResetAsync() => _fixture.ExecuteAsync(
        "delete from {schema}.mt_doc_leadscoreview; delete from {schema}.lifecycle_outbox; delete from {schema}.lifecycle_schedule; " +
        "delete from {schema}.mt_event_progression where name = 'LeadScore:All'");

    private async Task NothingWrittenAsync(string when)
    {
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_doc_leadscoreview")).Should().Be(0, $"no view {when}");
        (await ScalarAsync<long>($"select count(*) from {Schema}.lifecycle_outbox")).Should().Be(0, $"no outbox row {when}");
        (await ScalarAsync<long>($"select count(*) from {Schema}.lifecycle_schedule")).Should().Be(0, $"no schedule row {when}");
        (await ProgressAsync()).Should().Be(-1, $"no progression {when}");
    }

    private Task<long> ProgressAsync() =>
        ScalarAsync<long>($"select coalesce(max(last_seq_id), -1) from {Schema}.mt_event_progression where name = 'LeadScore:All'");

    private Task<List<string>> RowsAsync(string sql) => TestSql.RowsAsync(sql.Replace("{schema}", Schema, StringComparison.Ordinal));

    private static Task<T> ScalarAsync<T>(string sql) => TestSql.ScalarAsync<T>(sql);
}
