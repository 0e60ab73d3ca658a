using Marten;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// The warm-up before the daemon (<see cref="LeadScoreWarmUp"/>) runs the live projection's page step for real, views,
/// outbox rows and schedule rows written in its transaction, and leaves nothing: every table as it found it.
/// </summary>
public sealed class LeadScoreWarmUpTests : IAsyncLifetime
{
    private readonly StoreFixture _fixture = new();
    private string Schema => _fixture.Schema;
    private DocumentStore Store => _fixture.Store;

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Runs_the_page_step_on_the_newest_events_under_stand_in_ids_and_leaves_every_table_as_it_was()
    {
        await StreamOrderedRebuildTests.SeedAsync(Store, 12);
        using (var daemon = await Store.BuildProjectionDaemonAsync())
        {
            await daemon.StartAllAsync();
            await daemon.WaitForNonStaleData(TimeSpan.FromSeconds(120));
            await daemon.StopAllAsync();
        }

        var before = await SnapshotAsync();
        before.Views.Should().NotBeEmpty();
        before.Outbox.Should().Contain(r => r.Contains(LifecycleMessageTypes.MqlCrossed), "the seed has crossings, so the page step writes outbox rows");
        var events = await TestSql.ScalarAsync<long>($"select count(*) from {Schema}.mt_events");
        var sequence = await SequenceAsync();

        // What each round's transaction holds before its rollback: the stand-in leads' rows the page step wrote.
        var seen = new List<(long Views, long Outbox, long RealViewsTouched)>();
        var warmUp = new LeadScoreWarmUp(Store, _fixture.Model, Schema, TestEnvironment.PostgresConnectionString)
        {
            BeforeRollback = async transaction => seen.Add((
                await CountAsync(transaction, $"select count(*) from {Schema}.mt_doc_leadscoreview where id like '{LeadScoreWarmUp.StandInPrefix}%'"),
                await CountAsync(transaction, $"select count(*) from {Schema}.lifecycle_outbox where lead_id like '{LeadScoreWarmUp.StandInPrefix}%'"),
                await CountAsync(transaction, $"select count(*) from {Schema}.mt_doc_leadscoreview where id not like '{LeadScoreWarmUp.StandInPrefix}%' " +
                                              "and mt_last_modified = transaction_timestamp()"))),
        };

        var result = await warmUp.RunAsync(TimeSpan.FromMinutes(2), CancellationToken.None);

        result.Rounds.Should().BeGreaterThanOrEqualTo(LeadScoreWarmUp.MinimumRounds);
        result.RoundEvents.Should().Be((int)Math.Min(events, LeadScoreWarmUp.RoundEvents), "each round reads the newest events, up to one page");
        seen.Should().HaveCount(result.Rounds);
        seen.Should().AllSatisfy(r =>
        {
            r.Views.Should().Be(before.Views.Count, "each lead the daemon made a view of gets one under its stand-in id");
            r.Outbox.Should().BePositive("the crossings are written to the outbox in the round's transaction");
            r.RealViewsTouched.Should().Be(0, "no stored view is written");
        });

        (await SnapshotAsync()).Should().BeEquivalentTo(before, o => o.WithStrictOrdering(), "the rollback leaves every row as it was");
        (await SequenceAsync()).Should().Be(sequence, "no event was appended, so no event sequence number was used");
    }

    [Fact]
    public async Task Given_a_store_without_events_Then_it_runs_no_round()
    {
        var result = await new LeadScoreWarmUp(Store, _fixture.Model, Schema, TestEnvironment.PostgresConnectionString)
            .RunAsync(TimeSpan.FromSeconds(30), CancellationToken.None);

        (result.Rounds, result.RoundEvents, result.Quiet).Should().Be((0, 0, false));
    }

    [Fact]
    public async Task Given_a_negative_warm_up_time_Then_Projections_refuses_to_start_with_a_clear_error()
    {
        await FluentActions.Awaiting(() => ProjectionsHostFixture.StartAsync(Schema, settings: new Dictionary<string, string?>
            {
                ["Projections:WarmUpSeconds"] = "-1",
                ["Lifecycle:Scheduler:Enabled"] = "false",
            }))
            .Should().ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>()
            .WithMessage("Projections:WarmUpSeconds must be 0 (off) or a number of seconds, not -1");
    }

    private sealed record Snapshot(List<string> Views, List<string> Outbox, List<string> Schedule, List<string> Progression);

    private async Task<Snapshot> SnapshotAsync() => new(
        await TestSql.RowsAsync($"select to_jsonb(d)::text from {Schema}.mt_doc_leadscoreview d order by id"),
        await TestSql.RowsAsync($"select to_jsonb(o)::text from {Schema}.lifecycle_outbox o order by position"),
        await TestSql.RowsAsync($"select to_jsonb(s)::text from {Schema}.lifecycle_schedule s order by lead_id"),
        await TestSql.RowsAsync($"select to_jsonb(p)::text from {Schema}.mt_event_progression p order by name"));

    private Task<long> SequenceAsync() => TestSql.ScalarAsync<long>($"select last_value from {Schema}.mt_events_sequence");

    private static async Task<long> CountAsync(NpgsqlTransaction transaction, string sql)
    {
        await using var command = new NpgsqlCommand(sql, transaction.Connection, transaction);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
