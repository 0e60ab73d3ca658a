using System.Text.Json;
using Marten;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>Two event stores, one written through Marten's own append, the other through the set-based statement.</summary>
public sealed class TwoStoresFixture : IAsyncLifetime
{
    public StoreFixture Marten { get; } = new();
    public StoreFixture SetBased { get; } = new();

    public async Task InitializeAsync()
    {
        await Marten.InitializeAsync();
        await SetBased.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Marten.DisposeAsync();
        await SetBased.DisposeAsync();
    }
}

/// <summary>
/// Issue 11: every custom write path diffs its rows against Marten's own. The same batches (new and existing streams,
/// traceparent headers, duplicates inside and across batches, profile, engagement, anonymous events, an identify that
/// copies a visitor's stream, a merge of two leads) go through the appender with <see cref="IngestionOptions.SetBasedAppend"/>
/// off in one schema and on in the other, once with each of its two ways of writing the events
/// (<see cref="IngestionOptions.CopyEvents"/>).
/// </summary>
public sealed class SetBasedAppendTests(TwoStoresFixture fx) : IClassFixture<TwoStoresFixture>
{
    private static readonly DateTimeOffset T0 = new DateTimeOffset(DateTimeOffset.UtcNow.AddDays(-20).Date, TimeSpan.Zero);
    private const string Trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_set_based_append_writes_the_rows_and_views_Marten_writes(bool copyEvents)
    {
        var run = TestEnvironment.Unique(copyEvents ? "diffcopy" : "diff");
        var batches = Workload(run);
        // One transaction at a time: two in parallel would number their events in whichever order they commit.
        var marten = fx.Marten.Appender(new IngestionOptions { AppendConcurrency = 1, SetBasedAppend = false });
        var setBased = fx.SetBased.Appender(new IngestionOptions { AppendConcurrency = 1, SetBasedAppend = true, CopyEvents = copyEvents });
        var martenResults = new List<AppendResult>();
        var setBasedResults = new List<AppendResult>();
        foreach (var batch in batches)
        {
            martenResults.Add(await marten.AppendAsync(batch, CancellationToken.None));
            setBasedResults.Add(await setBased.AppendAsync(batch, CancellationToken.None));
        }

        setBasedResults.SelectMany(r => r.Rejected).Select(r => r.Reason).Should().BeEmpty();
        martenResults.SelectMany(r => r.Rejected).Should().BeEmpty();
        setBasedResults.Should().Equal(martenResults, "the same events count as appended and as duplicates");
        setBasedResults.Sum(r => r.Duplicates).Should().BeGreaterThan(0, "the workload redelivers events");
        var martenEvents = await EventRowsAsync(fx.Marten.Schema, run);
        var setBasedEvents = await EventRowsAsync(fx.SetBased.Schema, run);
        martenEvents.Should().HaveCountGreaterThan(20);
        martenEvents.Should().Contain(r => r.Contains("IdentityLinked", StringComparison.Ordinal) && r.Contains(Trace, StringComparison.Ordinal));
        setBasedEvents.Should().Equal(martenEvents, "every column but seq_id and timestamp is equal, in seq_id order");
        (await StreamRowsAsync(fx.SetBased.Schema, run)).Should().Equal(await StreamRowsAsync(fx.Marten.Schema, run));
        (await ScalarAsync($"select max(seq_id) - min(seq_id) + 1 - count(*) from {fx.SetBased.Schema}.mt_events"))
            .Should().Be(0L, "no sequence number is burnt");
        (await ScalarAsync($"select count(*) from {fx.SetBased.Schema}.mt_events where timestamp is null or seq_id is null"))
            .Should().Be(0L);

        var martenViews = await ViewsAsync(fx.Marten, run);
        martenViews.Should().HaveCountGreaterThan(8);
        (await ViewsAsync(fx.SetBased, run)).Should().Equal(martenViews, "the projection folds both stores into the same views");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_set_based_append_wakes_the_daemon_with_Marten_s_notification_when_it_commits(bool copyEvents)
    {
        var lead = TestEnvironment.Unique("notify");
        await using var listener = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await listener.OpenAsync();
        var received = new List<NpgsqlNotificationEventArgs>();
        int appender;
        listener.Notification += (_, e) => received.Add(e);
        await using (var listen = new NpgsqlCommand("listen mt_events_appended", listener)) await listen.ExecuteNonQueryAsync();

        await using (var session = fx.SetBased.Store.LightweightSession())
        {
            await session.BeginTransactionAsync(CancellationToken.None);
            await using (var pid = new NpgsqlCommand("select pg_backend_pid()", session.Connection)) appender = (int)(await pid.ExecuteScalarAsync())!;
            EventRow[] rows = [new(lead, EventIds.FromSourceId(lead + "-1"), Pending(Events.Engagement(lead, "page_viewed", T0, "pricing", lead + "-1")).Data, null)];
            var stored = copyEvents
                ? await SetBasedAppend.CopyAsync(session, fx.SetBased.Schema, rows, CancellationToken.None)
                : await SetBasedAppend.AppendAsync(session, fx.SetBased.Schema, rows, CancellationToken.None);
            stored.Should().ContainSingle();
            await session.SaveChangesAsync();
        }

        // Other tests append meanwhile on the same channel: wait for the one from this append's backend.
        // (Notification is raised on this thread, inside WaitAsync.)
        while (!received.Any(n => n.PID == appender))
        {
            (await listener.WaitAsync(TimeSpan.FromSeconds(30))).Should().BeTrue("the commit sends mt_events_appended");
        }

        received.Single(n => n.PID == appender).Payload.Should().BeEmpty("Marten's pg_notify('mt_events_appended', '')");
        (await fx.SetBased.CountEventsAsync(lead)).Should().Be(1);
    }

    private static List<List<PendingEvent>> Workload(string run)
    {
        var (a, b, c, anon) = ($"{run}-a", $"{run}-b", $"{run}-c", $"{run}-visitor");
        var first = new List<PendingEvent>
        {
            Pending(Events.Profile(b, T0, Events.FitTraits) with { Id = $"{run}-b-profile" }),
            Pending(Events.Engagement(a, "page_viewed", T0.AddMinutes(1), "pricing", $"{run}-a1"), Trace),
            Pending(Events.Engagement(b, "email_opened", T0.AddMinutes(2), null, $"{run}-b1")),
            Pending(Anonymous(anon, "page_viewed", "pricing", T0.AddMinutes(3), $"{run}-v1"), Trace),
            Pending(Events.Engagement(a, "webinar_attended", T0.AddMinutes(4), null, $"{run}-a2")),
            Pending(Anonymous(anon, "form_submitted", "demo_request", T0.AddMinutes(5), $"{run}-v2")),
            Pending(Events.Engagement(a, "page_viewed", T0.AddMinutes(1), "pricing", $"{run}-a1"), Trace),
        };
        for (var i = 0; i < 12; i++)
        {
            first.Add(Pending(Events.Engagement($"{run}-n{i % 5}", "page_viewed", T0.AddMinutes(6 + i), "blog", $"{run}-n{i}"), i % 2 == 0 ? Trace : null));
        }

        var second = new List<PendingEvent>
        {
            Pending(Events.Engagement(a, "page_viewed", T0.AddMinutes(1), "pricing", $"{run}-a1"), Trace),
            Pending(Events.Engagement(a, "content_downloaded", T0.AddMinutes(30), null, $"{run}-a3")),
            Pending(Events.Engagement(c, "form_submitted", T0.AddMinutes(31), "demo_request", $"{run}-c1"), Trace),
            Pending(Events.Profile(c, T0.AddMinutes(32), Events.FitTraits) with { Id = $"{run}-c-profile" }),
            // Segment's identify: b's profile with the visitor's anonymous id copies the visitor's stream into b.
            Pending(Events.Profile(b, T0.AddMinutes(33), Events.FitTraits) with { Id = $"{run}-b-identify", AnonymousId = anon }, Trace),
            Pending(Anonymous(anon, "page_viewed", "product", T0.AddMinutes(34), $"{run}-v3"), Trace),
            Pending(Events.Engagement($"{run}-n1", "email_clicked", T0.AddMinutes(35), null, $"{run}-n1-more")),
        };
        var third = new List<PendingEvent>
        {
            // c is merged into a (an alias with previousId), then c's later events go to a.
            Pending(Link(a, $"{run}-merge", previousId: c), Trace),
            Pending(Events.Engagement(c, "page_viewed", T0.AddMinutes(40), "pricing", $"{run}-c2")),
            Pending(Anonymous(anon, "page_viewed", "case_study", T0.AddMinutes(41), $"{run}-v4")),
            Pending(Events.Engagement($"{run}-n2", "email_opened", T0.AddMinutes(42), null, $"{run}-n2")),
        };
        return [first, second, third, [.. second, .. third]];
    }

    private static EngagementEvent Anonymous(string anon, string type, string? category, DateTimeOffset at, string id) =>
        Events.Engagement("unused", type, at, category, id) with { LeadId = null, AnonymousId = anon };

    private static EngagementEvent Link(string lead, string id, string previousId) => new()
    {
        Id = id,
        Type = EngagementEventTypes.IdentityLinked,
        LeadId = lead,
        OccurredAt = T0.AddMinutes(39),
        Properties = new() { ["previousId"] = JsonSerializer.SerializeToElement(previousId) },
    };

    private static PendingEvent Pending(EngagementEvent e, string? traceParent = null)
    {
        EngagementEventParser.Validate(e, OccurredAtWindow.Default(TimeProvider.System)).Should().BeNull();
        return new PendingEvent(e.StreamKey, EventIds.FromSourceId(e.Id), EngagementMapper.ToDomainEvent(e), traceParent) { Link = EngagementMapper.LinkOf(e) };
    }

    private static Task<List<string>> EventRowsAsync(string schema, string run) => TestSql.RowsAsync(
        $"select concat_ws(' | ', stream_id, version, id, data::text, coalesce(encode(bdata, 'hex'), '<null>'), type, tenant_id, mt_dotnet_type, " +
        $"coalesce(headers::text, '<null>'), is_archived) from {schema}.mt_events where stream_id like '%{run}%' order by seq_id");

    private static Task<List<string>> StreamRowsAsync(string schema, string run) => TestSql.RowsAsync(
        $"select concat_ws(' | ', id, coalesce(type, '<null>'), version, tenant_id, compacted_version, is_archived, timestamp >= created) " +
        $"from {schema}.mt_streams where id like '%{run}%' order by id");

    private static async Task<List<string>> ViewsAsync(StoreFixture store, string run)
    {
        using var daemon = await store.Store.BuildProjectionDaemonAsync();
        await daemon.RebuildProjectionAsync("LeadScore", TimeSpan.FromSeconds(60), CancellationToken.None);
        // LastSequence is a position in its own store's sequence (like seq_id, it differs between the two stores): compared
        // as the id of the event it names, which is the same in both.
        return await TestSql.RowsAsync($"""
            select concat_ws(' | ', v.id, (v.data - 'LastSequence')::text, 'last event ' || e.id::text)
            from {store.Schema}.mt_doc_leadscoreview v
            left join {store.Schema}.mt_events e on e.seq_id = (v.data ->> 'LastSequence')::bigint
            where v.id like '%{run}%' order by v.id
            """);
    }

    private static async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
