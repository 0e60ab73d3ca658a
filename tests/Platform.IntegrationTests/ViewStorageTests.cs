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
    public async Task Given_a_new_schema_When_the_owner_tunes_it_Then_autovacuum_analyzes_the_views_and_the_outbox_rarely_and_an_operators_value_stays()
    {
        (await SettingsAsync("mt_doc_leadscoreview")).Should().BeEmpty("a new table has PostgreSQL's defaults");
        // An operator's own choice for the outbox, set before the service starts.
        await TestSql.ExecuteAsync($"alter table {_schema}.lifecycle_outbox set (autovacuum_analyze_scale_factor = 0.5)");

        for (var start = 0; start < 2; start++)
        {
            await EventStoreStartup.TuneAnalyzeAsync(TestEnvironment.PostgresConnectionString, _schema, NullLogger.Instance, CancellationToken.None);
            (await SettingsAsync("mt_doc_leadscoreview")).Should().Equal(["autovacuum_analyze_scale_factor=10"], "start {0}", start + 1);
            (await SettingsAsync("lifecycle_outbox")).Should().Equal(["autovacuum_analyze_scale_factor=0.5"], "the operator's value stays (start {0})", start + 1);
        }

        await TestSql.ExecuteAsync($"alter table {_schema}.lifecycle_outbox reset (autovacuum_analyze_scale_factor)");
        await EventStoreStartup.TuneAnalyzeAsync(TestEnvironment.PostgresConnectionString, _schema, NullLogger.Instance, CancellationToken.None);
        (await SettingsAsync("lifecycle_outbox")).Should().Equal(["autovacuum_analyze_scale_factor=10"], "with no value of its own the outbox gets the same");
    }

    private Task<List<string>> SettingsAsync(string table) => TestSql.RowsAsync(
        $"select unnest(coalesce(reloptions, '{{}}')) from pg_class where oid = '{_schema}.{table}'::regclass");

    /// <summary>Each column of the views' table as "name storage" (x: extended, m: main, p: plain).</summary>
    private Task<List<string>> StorageAsync() => TestSql.RowsAsync(
        "select a.attname::text || ' ' || a.attstorage::text from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace " +
        $"where n.nspname = '{_schema}' and c.relname = 'mt_doc_leadscoreview' and a.attnum > 0 and not a.attisdropped order by a.attnum");
}
