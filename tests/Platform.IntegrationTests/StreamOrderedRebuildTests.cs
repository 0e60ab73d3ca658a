using Marten;
using Npgsql;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// The stream-ordered rebuild is a custom write path for the score views: its rows are diffed against the rows Marten's
/// own rebuild writes for one event set rich in cases. mt_last_modified is the time
/// of the write and differs by design; mt_version (Marten's numeric revision: the stream version applied) is compared.
/// </summary>
public sealed class StreamOrderedRebuildTests : IAsyncLifetime
{
    private readonly StoreFixture _fixture = new();
    private string Schema => _fixture.Schema;
    private DocumentStore Store => _fixture.Store;

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Given_a_rich_event_set_When_rebuilt_stream_ordered_Then_rows_progression_and_schedule_equal_Marten_rebuild()
    {
        var leads = await SeedAsync(24);
        var highWater = await ScalarAsync<long>($"select max(seq_id) from {Schema}.mt_events");

        // Marten's own rebuild, kept for the comparison.
        await MartenRebuildAsync();
        await ExecuteAsync($"create table {Schema}.marten_views as select * from {Schema}.mt_doc_leadscoreview");
        var martenProgress = await ProgressAsync();
        var indexesBefore = await IndexesAsync();
        // The schema owner's start keeps the views' JSON in the row and compresses it with lz4 (EventStoreStartup); the
        // rebuilt table must keep both.
        (await ViewStorageAsync()).Should().Be("x/", "a new table stores jsonb extended (out of line) and compresses with the server default");
        await ScoringPlatform.Leads.EventStore.EventStoreStartup.TuneViewStorageAsync(
            TestEnvironment.PostgresConnectionString, Schema, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        (await ViewStorageAsync()).Should().Be("m/l");
        // What the rebuild must restore itself: the schedule and the progression. And keep: settings an operator gave the table.
        await ExecuteAsync($"delete from {Schema}.lifecycle_schedule; update {Schema}.mt_event_progression set last_seq_id = 0 where name = 'LeadScore:All'");
        await ExecuteAsync($"alter table {Schema}.mt_doc_leadscoreview set (autovacuum_vacuum_scale_factor = 0.05, fillfactor = 90)");

        var readDuringCopy = 0L;
        var rebuild = new StreamOrderedRebuild(Store, _fixture.Model, Schema, TestEnvironment.PostgresConnectionString)
        {
            // While the COPY into the work table is open, another connection reads the views (and is not blocked).
            WhileCopying = async () =>
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await using var query = Store.QuerySession();
                var view = await query.LoadAsync<LeadScoreView>(leads[0], timeout.Token);
                view.Should().NotBeNull("the old views stay readable during the rebuild");
                readDuringCopy = await query.Query<LeadScoreView>().CountAsync(timeout.Token);
            },
        };
        var result = await rebuild.RunAsync(CancellationToken.None);

        readDuringCopy.Should().Be(await ScalarAsync<long>($"select count(*) from {Schema}.marten_views"), "the reader saw the old views while the COPY ran");
        result.Ceiling.Should().Be(highWater);
        result.Events.Should().Be(await ScalarAsync<long>($"select count(*) from {Schema}.mt_events"));
        result.Documents.Should().Be(await ScalarAsync<long>($"select count(*) from {Schema}.marten_views")).And.BeGreaterThan(leads.Count);

        (await DifferencesAsync("marten_views")).Should().BeEmpty("the stream-ordered rebuild writes the rows Marten's rebuild writes");
        (await ProgressAsync()).Should().Be(martenProgress).And.Be(highWater);
        (await ScheduleDifferencesAsync($"select id, (data ->> 'NextDueAt')::timestamptz from {Schema}.marten_views where data ->> 'NextDueAt' is not null"))
            .Should().Be(0, "the schedule is rewritten from the rebuilt views");
        (await ScalarAsync<long>($"select count(*) from {Schema}.lifecycle_schedule")).Should().BePositive();

        // Same index names and definitions, no work table left, and Marten's schema check finds nothing to change.
        (await IndexesAsync()).Should().Equal(indexesBefore);
        (await ScalarAsync<long>($"select count(*) from pg_tables where schemaname = '{Schema}' and tablename = '{StreamOrderedRebuild.WorkTableName}'")).Should().Be(0);
        await Store.Storage.Database.AssertDatabaseMatchesConfigurationAsync();
        (await ViewStorageAsync()).Should().Be("m/l", "the work table is created like the live one, its column's storage and compression included");
        (await ScalarAsync<object>($"select reloptions from pg_class where oid = '{Schema}.mt_doc_leadscoreview'::regclass") as string[])
            .Should().BeEquivalentTo(["autovacuum_vacuum_scale_factor=0.05", "fillfactor=90"], "LIKE does not copy a table's settings: the rebuild copies them itself");
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_doc_leadscoreview where pg_column_compression(data) = 'pglz'"))
            .Should().Be(0, "the rebuild wrote every view again, compressed with lz4");
        (await ScalarAsync<long>($"select count(*) from {Schema}.mt_doc_leadscoreview where pg_column_compression(data) = 'lz4'")).Should().BePositive();
        // COPY FREEZE marked every page all-visible (the rebuild's ANALYZE read the count from the visibility map): the
        // live table needs no vacuum pass of its own after the swap.
        var (pages, allVisible) = (await ScalarAsync<int>($"select relpages from pg_class where oid = '{Schema}.mt_doc_leadscoreview'::regclass"),
            await ScalarAsync<int>($"select relallvisible from pg_class where oid = '{Schema}.mt_doc_leadscoreview'::regclass"));
        pages.Should().BePositive();
        allVisible.Should().Be(pages, "the rebuilt views were copied frozen");
    }

    /// <summary>The views' JSON column as "storage/compression" (x: extended, m: main; l: lz4, empty: the server default).</summary>
    private Task<string> ViewStorageAsync() => ScalarAsync<string>(
        "select a.attstorage::text || '/' || a.attcompression::text from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace " +
        $"where n.nspname = '{Schema}' and c.relname = 'mt_doc_leadscoreview' and a.attname = 'data'");

    [Fact]
    public async Task Given_a_rebuild_interrupted_before_the_swap_Then_the_old_views_stay_and_the_next_run_cleans_up()
    {
        await SeedAsync(6);
        var highWater = await ScalarAsync<long>($"select max(seq_id) from {Schema}.mt_events");
        await MartenRebuildAsync();
        await ExecuteAsync($"create table {Schema}.before_views as select * from {Schema}.mt_doc_leadscoreview; " +
                           $"update {Schema}.mt_event_progression set last_seq_id = 1 where name = 'LeadScore:All'");

        var crashing = new StreamOrderedRebuild(Store, _fixture.Model, Schema, TestEnvironment.PostgresConnectionString)
        {
            BeforeSwap = () => throw new IOException("simulated crash before the swap"),
        };
        await FluentActions.Awaiting(() => crashing.RunAsync(CancellationToken.None)).Should().ThrowAsync<IOException>();

        // Untouched: the same rows, metadata included, and the progression where it was.
        (await ScalarAsync<long>(
                $"select count(*) from {Schema}.before_views b full join {Schema}.mt_doc_leadscoreview v on v.id = b.id " +
                "where v.id is null or b.id is null or v.data <> b.data or v.mt_version <> b.mt_version"))
            .Should().Be(0);
        (await ProgressAsync()).Should().Be(1);
        (await ScalarAsync<long>($"select count(*) from {Schema}.{StreamOrderedRebuild.WorkTableName}")).Should().BePositive("the crash left the work table");

        var result = await new StreamOrderedRebuild(Store, _fixture.Model, Schema, TestEnvironment.PostgresConnectionString).RunAsync(CancellationToken.None);
        result.Ceiling.Should().Be(highWater);
        (await DifferencesAsync("before_views")).Should().BeEmpty();
        (await ProgressAsync()).Should().Be(highWater);
        (await ScalarAsync<long>($"select count(*) from pg_tables where schemaname = '{Schema}' and tablename = '{StreamOrderedRebuild.WorkTableName}'")).Should().Be(0);
    }

    /// <summary>
    /// Leads with engagement (in and out of time order), profile updates (one disqualifying), sales feedback (accepted,
    /// refused, qualified, converted), clock ticks past decay and SLA deadlines, anonymous visitors linked into leads
    /// (copies, link, the merged stream's MergedInto and later events), a lead merged into another, and a legacy event.
    /// Appended in several transactions, interleaved across leads, so sequences of a stream are not contiguous.
    /// </summary>
    private Task<List<string>> SeedAsync(int count) => SeedAsync(Store, count);

    /// <inheritdoc cref="SeedAsync(int)"/>
    internal static async Task<List<string>> SeedAsync(DocumentStore store, int count)
    {
        var t0 = new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
        var leads = Enumerable.Range(0, count).Select(i => TestEnvironment.Unique($"rb{i}")).ToList();
        (string Type, string? Category)[] kinds =
        [
            ("page_viewed", "pricing"), ("form_submitted", "demo_request"), ("email_opened", null), ("form_submitted", "contact_sales"),
            ("page_viewed", "blog"), ("content_downloaded", "whitepaper"), ("webinar_attended", null),
        ];
        EngagementRecorded Engagement(string lead, int n, DateTimeOffset at) =>
            new($"{lead}-e{n}", kinds[n % kinds.Length].Type, at, kinds[n % kinds.Length].Category, n % 3 == 0 ? $"act-{n % 2}" : null, "tests", null);

        for (var round = 0; round < 4; round++)
        {
            await using var session = store.LightweightSession();
            for (var i = 0; i < leads.Count; i++)
            {
                var lead = leads[i];
                var at = t0.AddHours(i).AddDays(round * 3);
                var events = new List<object>();
                for (var n = 0; n < 2 + (i + round) % 3; n++) events.Add(Engagement(lead, round * 10 + n, at.AddMinutes(n * 7)));
                // A late event: dated before what the lead already has.
                if (round == 2 && i % 4 == 1) events.Add(Engagement(lead, 99, t0.AddMinutes(-30)));
                if (round == 0 && i % 2 == 0)
                {
                    events.Add(new ProfileUpdated($"{lead}-p0", at, $"{lead}@acme-industries.com", i % 4 == 0 ? "CTO" : "Engineer",
                        50 + i * 40, "software", i % 3 == 0 ? "US" : "DE", i % 4 == 0 ? true : null, "tests"));
                }

                if (round == 1 && i % 7 == 3) events.Add(new ProfileUpdated($"{lead}-p1", at, "someone@rivalscore.io", null, null, null, null, null, "tests"));
                if (round == 1 && i % 3 == 0)
                {
                    events.Add(new SalesFeedbackRecorded($"crm-{i}-a", SalesActionKind.Accept, "rep-ada", at.AddMinutes(40), null, null, null, at.AddMinutes(41)));
                }

                if (round == 2 && i % 3 == 0)
                {
                    events.Add(new SalesFeedbackRecorded($"crm-{i}-q", SalesActionKind.Qualify, "rep-ada", at.AddMinutes(50), null, LifecycleStage.Sal, null, at.AddMinutes(51)));
                }

                if (round == 2 && i % 5 == 1)
                {
                    // Refused (or not) depending on the stage the lead is in: either way a case.
                    events.Add(new SalesFeedbackRecorded($"crm-{i}-c", SalesActionKind.Convert, "rep-bo", at.AddMinutes(55), null, null, 12_500.50m, at.AddMinutes(56)));
                }

                if (round == 3 && i % 2 == 1) events.Add(new LifecycleClockTicked(at.AddDays(20)));
                if (round == 3 && i % 4 == 0) events.Add(new LifecycleClockTicked(at.AddHours(30)));
                if (round == 3 && i == 5) events.Add(new MqlCrossed(lead, at, 80, 40, 40, "A", "default", 1, $"{lead}-e0", null));
                session.Events.Append(lead, events.ToArray());
            }

            // Anonymous visitors: events on their own stream, then copied into a lead with the link, then merged.
            var visitor = $"anon:{TestEnvironment.Unique("v")}-{round}";
            var owner = leads[round % leads.Count];
            session.Events.Append(visitor, Engagement(visitor, 1, t0.AddDays(round)), Engagement(visitor, 3, t0.AddDays(round).AddMinutes(3)));
            if (round > 0)
            {
                var copied = Engagement(visitor, 5, t0.AddDays(round - 1).AddMinutes(9));
                session.Events.Append(owner, copied, new IdentityLinked(visitor, visitor[5..], IdentityKind.Anonymous, $"{visitor}-id", t0.AddDays(round), 1));
                session.Events.Append(visitor, new MergedInto(owner, $"{visitor}-id", t0.AddDays(round)), Engagement(visitor, 6, t0.AddDays(round).AddMinutes(20)));
            }

            if (round == 3)
            {
                // A lead merged into another lead.
                var merged = leads[^1];
                session.Events.Append(leads[1], new IdentityLinked(merged, merged, IdentityKind.Lead, $"{merged}-merge", t0.AddDays(10), 3));
                session.Events.Append(merged, new MergedInto(leads[1], $"{merged}-merge", t0.AddDays(10)));
                // A stream whose only event is a merge has no view.
                session.Events.Append(TestEnvironment.Unique("lonely"), new MergedInto(leads[2], "lonely-merge", t0));
            }

            await session.SaveChangesAsync();
        }

        return leads;
    }

    private async Task MartenRebuildAsync()
    {
        using var daemon = await Store.BuildProjectionDaemonAsync();
        await daemon.RebuildProjectionAsync(LeadScoreProjection.ProjectionName, TimeSpan.FromMinutes(2), CancellationToken.None);
    }

    /// <summary>Rows that differ between the live views table and <paramref name="expected"/>: document (jsonb, structural), duplicated columns, type.</summary>
    private async Task<List<string>> DifferencesAsync(string expected)
    {
        var differences = new List<string>();
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select coalesce(v.id, e.id) from {Schema}.mt_doc_leadscoreview v full join {Schema}.{expected} e on e.id = v.id " +
            "where v.id is null or e.id is null or v.data <> e.data or v.mt_dotnet_type is distinct from e.mt_dotnet_type or v.mt_version <> e.mt_version " +
            "or v.stage is distinct from e.stage or v.tier is distinct from e.tier or v.mql_entered_at is distinct from e.mql_entered_at " +
            "or v.sla_due_at is distinct from e.sla_due_at or v.last_sequence is distinct from e.last_sequence", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) differences.Add(reader.GetString(0));
        return differences;
    }

    private Task<long> ScheduleDifferencesAsync(string expected) => ScalarAsync<long>(
        $"select count(*) from {Schema}.lifecycle_schedule s full join ({expected}) as e(lead_id, due_at) on e.lead_id = s.lead_id " +
        "where s.lead_id is null or e.lead_id is null or s.due_at <> e.due_at");

    private Task<long> ProgressAsync() =>
        ScalarAsync<long>($"select coalesce(max(last_seq_id), -1) from {Schema}.mt_event_progression where name = 'LeadScore:All'");

    private async Task<List<string>> IndexesAsync()
    {
        var indexes = new List<string>();
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select indexname || ': ' || indexdef from pg_indexes where schemaname = '{Schema}' and tablename = 'mt_doc_leadscoreview' order by 1", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) indexes.Add(reader.GetString(0));
        indexes.Should().NotBeEmpty();
        return indexes;
    }

    private Task ExecuteAsync(string sql) => _fixture.ExecuteAsync(sql);

    private static Task<T> ScalarAsync<T>(string sql) => TestSql.ScalarAsync<T>(sql);
}
