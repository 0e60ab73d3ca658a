using JasperFx;
using JasperFx.Events.Daemon;
using Marten;
using Microsoft.Extensions.Logging.Abstractions;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Scoring;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// Where PostgreSQL keeps a score view's row once the schema owner has tuned the table
/// (<see cref="EventStoreStartup.TuneViewStorageAsync"/>): in the row, with nothing in the TOAST table, also for a view
/// over the 2-KB threshold at which PostgreSQL starts moving values out of line. Before, a full bench run's schema (1M
/// events, 100k leads) had the type name of nearly every view in the TOAST table, written there again with each event
/// (docs/benchmarks.md, "Issue 11, tenth session").
/// </summary>
public sealed class ViewStorageTests : IAsyncLifetime
{
    private readonly string _schema = TestEnvironment.UniqueSchema("vst");
    private DocumentStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = DocumentStore.For(o =>
        {
            LeadEventStore.Configure(o, TestEnvironment.PostgresConnectionString, _schema, ScoringModel.Default, LeadScoreProjectionKind.SetBased);
            o.AutoCreateSchemaObjects = AutoCreate.All;
        });
        await _store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
    }

    public async Task DisposeAsync()
    {
        _store.Dispose();
        await TestEnvironment.DropSchemaAsync(_schema);
    }

    [Fact]
    public async Task Given_the_tuned_table_When_a_view_grows_past_2_KB_Then_nothing_of_its_row_goes_to_the_TOAST_table()
    {
        (await StorageAsync()).Should().Contain("mt_dotnet_type x", "a new table stores text extended (out of line when the row is large)");
        await EventStoreStartup.TuneViewStorageAsync(TestEnvironment.PostgresConnectionString, _schema, NullLogger.Instance, CancellationToken.None);
        (await StorageAsync()).Should().OnlyContain(c => c.EndsWith(" m", StringComparison.Ordinal) || c.EndsWith(" p", StringComparison.Ordinal),
            "every column of the views stays in the row (main) or is fixed-size (plain)");

        // One lead with a long history (every input is kept in its view), written by the live projection in two pages.
        var lead = $"lead-big-{Guid.NewGuid():N}";
        var t0 = new DateTimeOffset(DateTime.UtcNow.AddDays(-20).Date, TimeSpan.Zero);
        string[] types = ["page_viewed", "form_submitted", "email_clicked", "content_downloaded"];
        for (var page = 0; page < 2; page++)
        {
            await using (var session = _store.LightweightSession())
            {
                session.Events.Append(lead, Enumerable.Range(page * 20, 20).Select(i =>
                    (object)new EngagementRecorded($"{lead}-{i}", types[i % types.Length], t0.AddHours(i), $"category-{i % 7}", null, "tests", null)).ToArray());
                await session.SaveChangesAsync();
            }

            using var daemon = await _store.BuildProjectionDaemonAsync();
            await daemon.StartAllAsync();
            await daemon.WaitForNonStaleData(TimeSpan.FromSeconds(60));
            daemon.HasAnyPaused().Should().BeFalse();
            await daemon.StopAllAsync();
        }

        (await TestSql.ScalarAsync<int>($"select pg_column_size(d.*) from {_schema}.mt_doc_leadscoreview d where id = '{lead}'"))
            .Should().BeGreaterThan(2_100, "the row is past the size at which PostgreSQL moves values out of line");
        var toast = await TestSql.ScalarAsync<string>(
            $"select reltoastrelid::regclass::text from pg_class where oid = '{_schema}.mt_doc_leadscoreview'::regclass");
        (await TestSql.ScalarAsync<long>($"select count(*) from {toast}")).Should().Be(0, "nothing of the view's row, old or new, is in the TOAST table");
    }

    [Fact]
    public async Task Given_a_view_rewritten_by_the_live_projection_When_no_indexed_column_changes_Then_the_update_is_HOT()
    {
        (await StorageAsync()).Should().NotContain(c => c.StartsWith("last_sequence ", StringComparison.Ordinal),
            "every rewrite changed it: indexed, no rewrite could be HOT");

        // One lead, three pages of blog views (a cold lead: stage, tier, MQL entry and SLA deadline stay as they are), so
        // the second and third pages rewrite the view with only unindexed columns changed.
        var lead = $"lead-hot-{Guid.NewGuid():N}";
        var t0 = new DateTimeOffset(DateTime.UtcNow.AddDays(-20).Date, TimeSpan.Zero);
        for (var page = 0; page < 3; page++)
        {
            await using (var session = _store.LightweightSession())
            {
                session.Events.Append(lead, new EngagementRecorded($"{lead}-{page}", "page_viewed", t0.AddHours(page), "blog", null, "tests", null));
                await session.SaveChangesAsync();
            }

            using var daemon = await _store.BuildProjectionDaemonAsync();
            await daemon.StartAllAsync();
            await daemon.WaitForNonStaleData(TimeSpan.FromSeconds(60));
            daemon.HasAnyPaused().Should().BeFalse();
            await daemon.StopAllAsync();
        }

        (await TestSql.ScalarAsync<long>($"select (data ->> 'EventCount')::bigint from {_schema}.mt_doc_leadscoreview where id = '{lead}'")).Should().Be(3);
        // The statistics reach pg_stat_user_tables within seconds of the writers' commits (PostgreSQL batches them).
        var counts = await Eventually.Get(
            () => TestSql.ScalarAsync<string?>(
                $"select n_tup_upd || ' ' || n_tup_hot_upd from pg_stat_user_tables where schemaname = '{_schema}' and relname = 'mt_doc_leadscoreview'"),
            c => c == "2 2", TimeSpan.FromSeconds(60), "two updates of the view, both HOT");
        counts.Should().Be("2 2");
    }

    [Fact]
    public async Task Given_a_views_table_from_before_When_the_owner_starts_Then_its_last_sequence_column_and_index_go()
    {
        // The table as an earlier version left it: last_sequence duplicated and indexed (Marten's name for the index).
        await TestSql.ExecuteAsync($"alter table {_schema}.mt_doc_leadscoreview add column last_sequence bigint; " +
                                   $"create index mt_doc_leadscoreview_idx_last_sequence on {_schema}.mt_doc_leadscoreview (last_sequence)");
        (await IndexedColumnsAsync()).Should().Contain("last_sequence");

        // What the schema owner's start does: Marten's migration, then EventStoreStartup's tuning.
        using var next = DocumentStore.For(o =>
        {
            LeadEventStore.Configure(o, TestEnvironment.PostgresConnectionString, _schema, ScoringModel.Default, LeadScoreProjectionKind.SetBased);
            o.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        });
        await next.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // EventStoreStartup checks the schema before it tunes: an old column must not fail the check.
        await next.Storage.Database.AssertDatabaseMatchesConfigurationAsync();
        await EventStoreStartup.TuneViewStorageAsync(TestEnvironment.PostgresConnectionString, _schema, NullLogger.Instance, CancellationToken.None);

        (await IndexedColumnsAsync()).Should().NotContain("last_sequence");
        (await StorageAsync()).Should().NotContain(c => c.StartsWith("last_sequence ", StringComparison.Ordinal));
        await next.Storage.Database.AssertDatabaseMatchesConfigurationAsync();
    }

    /// <summary>The columns of the views' table's indexes (the primary key among them), one entry per index.</summary>
    private Task<List<string>> IndexedColumnsAsync() => TestSql.RowsAsync(
        "select string_agg(a.attname::text, ',') from pg_index x join pg_attribute a on a.attrelid = x.indrelid and a.attnum = any(x.indkey) " +
        $"where x.indrelid = '{_schema}.mt_doc_leadscoreview'::regclass group by x.indexrelid");

    /// <summary>Each column of the views' table as "name storage" (x: extended, m: main, p: plain).</summary>
    private Task<List<string>> StorageAsync() => TestSql.RowsAsync(
        "select a.attname::text || ' ' || a.attstorage::text from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace " +
        $"where n.nspname = '{_schema}' and c.relname = 'mt_doc_leadscoreview' and a.attnum > 0 and not a.attisdropped order by a.attnum");
}
