using JasperFx;
using JasperFx.Events.Daemon;
using Marten;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// The set-based live projection (<see cref="ScoringPlatform.Leads.ReadModel.LeadScoreLiveProjection"/>) against Marten's
/// own SingleStreamProjection path: the same events, appended in the same order to two schemas, projected by Marten's
/// async daemon with each implementation, give the same document rows (every column; <c>mt_last_modified</c> is the
/// writing transaction's time, so only present), the same outbox rows per lead in the same order, and the
/// same schedule rows; after a rebuild of both, the same documents again and no outbox row written by the rebuild.
/// A third schema gets the same events and is brought up to date by <see cref="StreamOrderedCatchUp"/> instead of the
/// daemon (whole streams through the live projection's page step, one transaction): the same rows again.
/// </summary>
public sealed class LeadScoreLiveProjectionTests : IAsyncLifetime
{
    private static readonly ScoringModel Model = ScoringModel.Default;
    private static readonly DateTimeOffset T0 = new(DateTimeOffset.UtcNow.AddDays(-120).Date, TimeSpan.Zero);
    private const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    private readonly string _marten = TestEnvironment.UniqueSchema("itm");
    private readonly string _setBased = TestEnvironment.UniqueSchema("its");
    private readonly string _catchUp = TestEnvironment.UniqueSchema("itc");
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private DocumentStore _martenStore = null!;
    private DocumentStore _setBasedStore = null!;
    private DocumentStore _catchUpStore = null!;

    public async Task InitializeAsync()
    {
        _martenStore = Open(_marten, LeadScoreProjectionKind.Marten);
        _setBasedStore = Open(_setBased, LeadScoreProjectionKind.SetBased);
        await _martenStore.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await _setBasedStore.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        _catchUpStore = Open(_catchUp, LeadScoreProjectionKind.SetBased);
        await _catchUpStore.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
    }

    private static DocumentStore Open(string schema, LeadScoreProjectionKind kind) => DocumentStore.For(o =>
    {
        LeadEventStore.Configure(o, TestEnvironment.PostgresConnectionString, schema, Model, kind);
        o.AutoCreateSchemaObjects = AutoCreate.All;
    });

    public async Task DisposeAsync()
    {
        _martenStore.Dispose();
        _setBasedStore.Dispose();
        _catchUpStore.Dispose();
        await TestEnvironment.DropSchemaAsync(_marten);
        await TestEnvironment.DropSchemaAsync(_setBased);
        await TestEnvironment.DropSchemaAsync(_catchUp);
    }

    [Fact]
    public async Task Writes_the_rows_Marten_s_projection_writes_for_every_kind_of_event_and_its_rebuild_writes_the_same_documents()
    {
        // Phase 1: histories appended before the daemons run, so pages hold several events per lead.
        var crossing = Lead("crossing");
        await AppendAsync(crossing, Engagement(crossing, "page_viewed", "pricing", T0), Engagement(crossing, "form_submitted", "demo_request", T0.AddMinutes(1)),
            Engagement(crossing, "form_submitted", "contact_sales", T0.AddMinutes(2)));
        var fit = Lead("fit");
        await AppendAsync(fit, Engagement(fit, "page_viewed", "pricing", T0), Engagement(fit, "form_submitted", "contact_sales", T0.AddMinutes(1)));
        await AppendAsync(fit, Profile(fit, T0.AddHours(1), "ceo@acme-corp.com", "CEO", 500));
        await AppendAsync(fit, Engagement(fit, "form_submitted", "demo_request", T0.AddHours(2)));
        var sales = Lead("sales");
        await AppendAsync(sales, Profile(sales, T0, "cto@bigco.com", "CTO", 1000), Engagement(sales, "form_submitted", "demo_request", T0.AddMinutes(1)),
            Engagement(sales, "form_submitted", "contact_sales", T0.AddMinutes(2)));
        await AppendAsync(sales, Feedback(SalesActionKind.Accept, "rep-ada", T0.AddHours(1), null));
        var decaying = Lead("decay");
        await AppendAsync(decaying, Engagement(decaying, "page_viewed", "pricing", T0), Engagement(decaying, "form_submitted", "demo_request", T0.AddMinutes(1)),
            Engagement(decaying, "form_submitted", "contact_sales", T0.AddMinutes(2)));
        var late = Lead("late");
        await AppendAsync(late, Engagement(late, "page_viewed", "pricing", T0), Engagement(late, "form_submitted", "demo_request", T0.AddMinutes(1)),
            Engagement(late, "form_submitted", "contact_sales", T0.AddMinutes(2)));
        var survivor = Lead("survivor");
        var anonymous = $"anon:{_run}";
        await AppendAsync(anonymous, Engagement(anonymous, "page_viewed", "pricing", T0), Engagement(anonymous, "page_viewed", "webinar", T0.AddMinutes(3)));
        // A link as the lead's first event, then the copies and the lead's own events.
        await AppendAsync(survivor, new IdentityLinked(anonymous, _run, IdentityKind.Anonymous, $"{survivor}-identify", T0.AddMinutes(5), 2),
            Engagement(survivor, "page_viewed", "pricing", T0), Engagement(survivor, "page_viewed", "webinar", T0.AddMinutes(3)));
        await AppendAsync(anonymous, new MergedInto(survivor, $"{survivor}-identify", T0.AddMinutes(5)));
        // A tick for a lead that has no view makes none.
        var nothing = Lead("nothing");
        await AppendAsync(nothing, new LifecycleClockTicked(T0.AddDays(1)));
        // Volume: many leads with mixed histories, interleaved, so a page holds hundreds of leads.
        var random = new Random(11);
        var many = Enumerable.Range(0, 150).Select(i => Lead($"many{i}")).ToList();
        string[] types = ["page_viewed", "form_submitted", "email_clicked", "content_downloaded"];
        string[] categories = ["pricing", "demo_request", "contact_sales", "blog", "webinar", "whitepaper"];
        for (var round = 0; round < 4; round++)
        {
            foreach (var lead in many)
            {
                var at = T0.AddHours(round * 6 + random.Next(0, 5));
                var batch = Enumerable.Range(0, random.Next(1, 4))
                    .Select(j => Engagement(lead, types[random.Next(types.Length)], categories[random.Next(categories.Length)], at.AddMinutes(j)))
                    .ToArray();
                await AppendAsync(lead, batch);
                if (round == 1 && random.Next(4) == 0) await AppendAsync(lead, Profile(lead, at.AddMinutes(30), $"vp@co{random.Next(9)}.com", "VP Marketing", 200));
            }
        }

        await CatchUpAsync();
        await ShouldMatchAsync("after the first histories");
        (await CountAsync(_setBased, $"select count(*) from {{schema}}.lifecycle_outbox where lead_id = '{late}' and message_type = '{LifecycleMessageTypes.MqlCrossed}'"))
            .Should().Be(1, "the lead crossed");

        // Phase 2: late events, clock ticks, sales feedback, events for a merged stream, more of the many.
        await AppendAsync(late, Profile(late, T0.AddMinutes(-5), "someone@rivalscore.io", null, null));
        await AppendAsync(decaying, new LifecycleClockTicked(T0.AddDays(30)), new LifecycleClockTicked(T0.AddDays(60)));
        await AppendAsync(decaying, Engagement(decaying, "page_viewed", "blog", T0.AddDays(61)));
        await AppendAsync(sales, Feedback(SalesActionKind.Qualify, "rep-ada", T0.AddHours(3), null),
            Feedback(SalesActionKind.Convert, "rep-ada", T0.AddDays(2), 12_500m));
        // Refused: a converted lead cannot be accepted again (the view keeps the refusal).
        await AppendAsync(sales, Feedback(SalesActionKind.Accept, "rep-bob", T0.AddDays(3), null));
        await AppendAsync(anonymous, Engagement(anonymous, "form_submitted", "demo_request", T0.AddMinutes(10)));
        await AppendAsync(crossing, new LifecycleClockTicked(T0.AddDays(2)));
        foreach (var lead in many.Where((_, i) => i % 3 == 0))
        {
            await AppendAsync(lead, Engagement(lead, "form_submitted", "demo_request", T0.AddDays(1)), new LifecycleClockTicked(T0.AddDays(45)));
        }

        // Every one of the many again: a page of over a hundred leads that each have a stored view to load and fold on from.
        foreach (var lead in many) await AppendAsync(lead, Engagement(lead, "page_viewed", "blog", T0.AddDays(50)));

        await CatchUpAsync();
        await ShouldMatchAsync("after late events, ticks, feedback and merges");
        (await CountAsync(_setBased, $"select count(*) from {{schema}}.lifecycle_outbox where message_type = '{LifecycleMessageTypes.TransitionRetracted}'"))
            .Should().BeGreaterThan(0, "the late disqualification retracts a published crossing");
        (await CountAsync(_setBased, "select count(*) from {schema}.lifecycle_schedule")).Should().BeGreaterThan(0);
        (await CountAsync(_setBased, $"select count(*) from {{schema}}.mt_doc_leadscoreview where id = '{nothing}'")).Should().Be(0);

        // A rebuild (Marten's RebuildProjectionAsync, as a model change runs it) rewrites the same documents and
        // publishes nothing: with the published rows gone, a rebuild that wrote side effects would write them again.
        foreach (var schema in new[] { _marten, _setBased }) await CountAsync(schema, "with gone as (delete from {schema}.lifecycle_outbox returning 1) select count(*) from gone");
        await RebuildAsync(_martenStore);
        await RebuildAsync(_setBasedStore);
        (await DocumentsAsync(_setBased)).Should().Equal(await DocumentsAsync(_marten), "a rebuild writes the documents Marten's rebuild writes");
        (await CountAsync(_setBased, "select count(*) from {schema}.lifecycle_outbox")).Should().Be(0, "a rebuild writes no outbox rows");
        (await CountAsync(_marten, "select count(*) from {schema}.lifecycle_outbox")).Should().Be(0, "nor does Marten's");
    }

    private string Lead(string name) => $"lead-{name}-{_run}";

    private static EngagementRecorded Engagement(string lead, string type, string category, DateTimeOffset at) =>
        new($"{lead}-{type}-{category}-{at.UtcTicks}", type, at, category, null, "tests", null);

    private static ProfileUpdated Profile(string lead, DateTimeOffset at, string email, string? title, int? size) =>
        new($"{lead}-profile-{at.UtcTicks}", at, email, title, size, size is null ? null : "Software", size is null ? null : "US", null, "tests");

    private static SalesFeedbackRecorded Feedback(SalesActionKind action, string actor, DateTimeOffset at, decimal? amount) =>
        new($"{action}-{at.UtcTicks}", action, actor, at, action == SalesActionKind.Convert ? "signed" : null, null, amount, at);

    /// <summary>The same events, in the same order, to every schema: the same sequences and versions in each.</summary>
    private async Task AppendAsync(string lead, params object[] events)
    {
        foreach (var store in new[] { _martenStore, _setBasedStore, _catchUpStore })
        {
            await using var session = store.LightweightSession();
            session.SetHeader(EventHeaders.TraceParent, TraceParent);
            session.Events.Append(lead, events);
            await session.SaveChangesAsync();
        }
    }

    private async Task CatchUpAsync()
    {
        foreach (var store in new[] { _martenStore, _setBasedStore })
        {
            using var daemon = await store.BuildProjectionDaemonAsync();
            await daemon.StartAllAsync();
            await daemon.WaitForNonStaleData(TimeSpan.FromSeconds(120));
            daemon.HasAnyPaused().Should().BeFalse("no shard pauses");
            await daemon.StopAllAsync();
        }

        var highWater = await CountAsync(_catchUp, "select max(seq_id) from {schema}.mt_events");
        var result = await new StreamOrderedCatchUp(_catchUpStore, Model, _catchUp, TestEnvironment.PostgresConnectionString).RunAsync(1, CancellationToken.None);
        result.Outcome.Should().Be(CatchUpOutcome.CaughtUp);
        result.Ceiling.Should().Be(highWater);
        (await CountAsync(_catchUp, "select last_seq_id from {schema}.mt_event_progression where name = 'LeadScore:All'")).Should().Be(highWater);
    }

    private static async Task RebuildAsync(DocumentStore store)
    {
        using var daemon = await store.BuildProjectionDaemonAsync();
        await daemon.RebuildProjectionAsync(Leads.ReadModel.LeadScoreProjection.ProjectionName, TimeSpan.FromSeconds(120), CancellationToken.None);
    }

    private async Task ShouldMatchAsync(string when)
    {
        (await ColumnsAsync(_setBased)).Should().Equal(await ColumnsAsync(_marten), "the same table");
        var documents = await DocumentsAsync(_setBased);
        documents.Should().HaveCountGreaterThan(150);
        documents.Should().Equal(await DocumentsAsync(_marten), $"the documents {when}");
        (await OutboxAsync(_setBased)).Should().Equal(await OutboxAsync(_marten), $"the outbox rows of each lead, in order, {when}");
        (await ScheduleAsync(_setBased)).Should().Equal(await ScheduleAsync(_marten), $"the schedule {when}");
        (await DocumentsAsync(_catchUp)).Should().Equal(documents, $"the stream-ordered catch-up's documents {when}");
        (await OutboxAsync(_catchUp)).Should().Equal(await OutboxAsync(_marten), $"the stream-ordered catch-up's outbox rows {when}");
        (await ScheduleAsync(_catchUp)).Should().Equal(await ScheduleAsync(_marten), $"the stream-ordered catch-up's schedule {when}");
        (await CountAsync(_setBased, "select count(*) from {schema}.mt_doc_leadscoreview where mt_last_modified is null"))
            .Should().Be(0, "every row has a modification time");
    }

    private static Task<List<string>> ColumnsAsync(string schema) => TestSql.RowsAsync(
        $"select column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') from information_schema.columns " +
        $"where table_schema = '{schema}' and table_name = 'mt_doc_leadscoreview' order by ordinal_position");

    /// <summary>Every column of every row (as jsonb: the document compares as a value), except the write's time.</summary>
    private static Task<List<string>> DocumentsAsync(string schema) => TestSql.RowsAsync(
        $"select (to_jsonb(d) - 'mt_last_modified')::text from {schema}.mt_doc_leadscoreview d order by id");

    /// <summary>
    /// Outbox rows of each lead in position order. The trace parent keeps its trace id only: the span id is a new
    /// span's when a listener samples (another test's host in this process may be listening).
    /// </summary>
    private static Task<List<string>> OutboxAsync(string schema) => TestSql.RowsAsync(
        $"select (to_jsonb(o) - 'position' - 'created_at' - 'trace_parent')::text || ' ' || coalesce(left(trace_parent, 35), '<null>') " +
        $"from {schema}.lifecycle_outbox o order by lead_id, position");

    private static Task<List<string>> ScheduleAsync(string schema) => TestSql.RowsAsync(
        $"select (to_jsonb(s) - 'updated_at')::text from {schema}.lifecycle_schedule s order by lead_id");

    private static async Task<long> CountAsync(string schema, string sql)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql.Replace("{schema}", schema, StringComparison.Ordinal), connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
