using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Api.Verdicts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;
using Xunit.Abstractions;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>The Api on a schema with the verdict cache on (or off: every verdict from the database), and its own settings.</summary>
public sealed class VerdictApi(string schema, bool cache, IReadOnlyDictionary<string, string>? settings = null)
    : WebApplicationFactory<LeadScoringService>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:EventStore", TestEnvironment.PostgresConnectionString);
        builder.UseSetting("EventStore:Schema", schema);
        builder.UseSetting("Api:VerdictCache:Enabled", cache ? "true" : "false");
        foreach (var (key, value) in TestApiKey.Settings(":")) builder.UseSetting(key, value);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
    }

    public LeadScoring.LeadScoringClient Client() =>
        new(GrpcChannel.ForAddress(Server.BaseAddress, new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(Server.CreateHandler()) }));

    public LeadVerdictStore Memory => Services.GetRequiredService<LeadVerdictStore>();
}

/// <summary>The Projections host writing the score views, the Api answering from memory, and the Api reading the database.</summary>
public sealed class VerdictCacheFixture : IAsyncLifetime
{
    public string Schema { get; } = TestEnvironment.UniqueSchema("itv");
    public WebApplication Projections { get; private set; } = null!;

    /// <summary>From memory; no safety poll within a test's time, so changes can only arrive by NOTIFY (or a reconnection).</summary>
    public VerdictApi Cached { get; private set; } = null!;
    public VerdictApi Database { get; private set; } = null!;
    public IDocumentStore Store => Projections.Services.GetRequiredService<IDocumentStore>();

    public async Task InitializeAsync()
    {
        Projections = await ProjectionsHostFixture.StartAsync(Schema);
        Cached = new VerdictApi(Schema, cache: true, new Dictionary<string, string>
        {
            ["Api:VerdictCache:SafetyPollInterval"] = "01:00:00",
            ["Api:VerdictCache:ReconnectMinDelay"] = "00:00:02",
            ["Api:VerdictCache:PageSize"] = "7",
        });
        Database = new VerdictApi(Schema, cache: false);
        _ = Cached.Server;
        _ = Database.Server;
    }

    public async Task DisposeAsync()
    {
        await Cached.DisposeAsync();
        await Database.DisposeAsync();
        await Projections.StopAsync();
        await Projections.DisposeAsync();
        await TestEnvironment.DropSchemaAsync(Schema);
    }

    public async Task AppendAsync(string stream, params object[] events)
    {
        await using var session = Store.LightweightSession();
        session.Events.Append(stream, events);
        await session.SaveChangesAsync();
    }

    public async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql.Replace("{schema}", Schema, StringComparison.Ordinal), connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? 0 : Convert.ToInt64(result, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until the projection applied every event and memory has read the change feed up to the newest view.</summary>
    public async Task CaughtUpAsync()
    {
        var events = await ScalarAsync("select coalesce(max(seq_id), 0) from {schema}.mt_events");
        await Eventually.Get<object>(async () =>
                await ScalarAsync("select coalesce(max(last_seq_id), 0) from {schema}.mt_event_progression where name = 'LeadScore:All'") >= events ? "" : null,
            _ => true, TimeSpan.FromSeconds(60), $"the projection at sequence {events}");
        var newest = await ScalarAsync("select coalesce(max(last_sequence), 0) from {schema}.mt_doc_leadscoreview");
        await Eventually.Get<object>(() => Task.FromResult<object?>(Cached.Memory.Position >= newest && Cached.Memory.Loaded ? "" : null),
            _ => true, TimeSpan.FromSeconds(60), $"memory at sequence {newest} (at {Cached.Memory.Position})");
    }
}

public sealed class VerdictCacheTests(VerdictCacheFixture fx, ITestOutputHelper output) : IClassFixture<VerdictCacheFixture>
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.UtcNow.AddDays(-20);
    private static readonly ScoringModel Model = ScoringModel.Default;

    private static readonly (string Type, string? Category)[] Mix =
    [
        ("page_viewed", "blog"), ("page_viewed", "product"), ("page_viewed", "pricing"), ("email_opened", null), ("email_clicked", null),
        ("content_downloaded", null), ("webinar_attended", null), ("form_submitted", "demo_request"), ("form_submitted", "newsletter"),
    ];

    private static ProfileUpdated FitProfile(string lead, DateTimeOffset at) =>
        new($"{lead}-profile-{at.UtcTicks}", at, "cto@acme-industries.com", "CTO", 400, "software", "US", null, "tests");

    private static EngagementRecorded Engagement(string lead, int i, DateTimeOffset at, (string Type, string? Category) kind) =>
        new($"{lead}-e{i}", kind.Type, at, kind.Category, $"activity-{i % 5}", "tests", null);

    /// <summary>Leads of many shapes: MQLs (hot, by points), leads below the threshold, one past its kept history, sales feedback, a merge.</summary>
    private async Task<List<(string Lead, DateTimeOffset Last)>> SeedAsync(string run)
    {
        var random = new Random(11);
        var leads = new List<(string, DateTimeOffset)>();
        for (var n = 0; n < 24; n++)
        {
            var lead = $"{run}-lead-{n}";
            var events = new List<object>();
            var at = T0.AddHours(random.Next(48));
            if (n % 3 == 0) events.Add(FitProfile(lead, at));
            var count = n == 5 ? 150 : 1 + random.Next(12);
            for (var i = 0; i < count; i++)
            {
                at = at.AddMinutes(random.Next(1, n == 5 ? 60 : 3000));
                events.Add(Engagement(lead, i, at, Mix[random.Next(Mix.Length)]));
            }

            if (n == 6) events.Add(Engagement(lead, 999, at.AddMinutes(5), ("form_submitted", "demo_request")));
            if (n == 9)
            {
                // A fit lead with a demo request, accepted by sales: a Hot MQL with its follow-up SLA met.
                events.Add(Engagement(lead, 998, at.AddMinutes(5), ("form_submitted", "demo_request")));
                events.Add(new SalesFeedbackRecorded($"{lead}-accept", SalesActionKind.Accept, "rep", at.AddHours(1), "call booked", null, null, at.AddHours(1)));
                at = at.AddHours(1);
            }

            await fx.AppendAsync(lead, events.ToArray());
            leads.Add((lead, events.Select(EventAt).Max()));
        }

        // A merged lead: its own view says where it went; memory does not hold it, the database answers it.
        var merged = $"{run}-merged";
        await fx.AppendAsync(merged, Engagement(merged, 0, T0, ("page_viewed", "pricing")), new MergedInto(leads[0].Item1, $"{run}-merge", T0.AddHours(1)));
        leads.Add((merged, T0.AddHours(1)));
        return leads;
    }

    private static DateTimeOffset EventAt(object e) => e switch
    {
        EngagementRecorded r => r.OccurredAt,
        ProfileUpdated p => p.OccurredAt,
        SalesFeedbackRecorded s => s.At,
        _ => DateTimeOffset.MinValue,
    };

    private static async Task<(Api.V1.Verdict? Verdict, StatusCode? Error)> AskAsync(LeadScoring.LeadScoringClient client, string lead, DateTimeOffset asOf)
    {
        try
        {
            return (await client.GetVerdictAsync(new GetVerdictRequest { LeadId = lead, AsOf = Timestamp.FromDateTimeOffset(asOf) }), null);
        }
        catch (RpcException ex)
        {
            return (null, ex.StatusCode);
        }
    }

    [Fact]
    public async Task Verdicts_from_memory_equal_the_database_paths_for_every_lead_and_instant()
    {
        var run = TestEnvironment.Unique("eq");
        var leads = await SeedAsync(run);
        await fx.CaughtUpAsync();

        var now = DateTimeOffset.UtcNow;
        var fromMemory = 0;
        var compared = 0;
        var mql = 0;
        foreach (var (lead, last) in leads)
        {
            DateTimeOffset[] instants =
            [
                now, now.AddDays(1), now.AddDays(45), now.AddDays(400), last, last.AddTicks(1), last.AddHours(3), last.AddDays(-1), T0.AddDays(-30), T0,
            ];
            foreach (var asOf in instants)
            {
                var cached = await AskAsync(fx.Cached.Client(), lead, asOf);
                var database = await AskAsync(fx.Database.Client(), lead, asOf);
                cached.Should().Be(database, $"{lead} at {asOf:O}");
                compared++;
                var memory = fx.Cached.Memory.TryAnswer(lead, asOf);
                if (memory is null) continue;
                memory.Should().Be(database.Verdict, $"memory's own answer for {lead} at {asOf:O}");
                fromMemory++;
                if (memory.IsMql) mql++;
            }
        }

        output.WriteLine($"{compared} verdicts compared, {fromMemory} answered from memory ({mql} MQL)");
        fx.Cached.Memory.Contains($"{run}-merged").Should().BeFalse("a merged lead is answered by the database (alias table)");
        fx.Cached.Memory.Contains($"{run}-lead-0").Should().BeTrue();
        fromMemory.Should().BeGreaterThan(compared / 2, "every lead answers from memory at or after its clock");
        mql.Should().BeGreaterThan(0, "the seeds include MQLs");
        (await AskAsync(fx.Cached.Client(), $"{run}-lead-5", T0)).Error.Should().Be(StatusCode.OutOfRange,
            "before the kept history the database path answers, as before");
    }

    [Fact]
    public async Task A_new_event_reaches_memory_through_NOTIFY()
    {
        var lead = TestEnvironment.Unique("notify");
        await fx.AppendAsync(lead, Engagement(lead, 0, T0, ("page_viewed", "blog")));
        await fx.CaughtUpAsync();
        fx.Cached.Memory.TryAnswer(lead, DateTimeOffset.UtcNow)!.EventCount.Should().Be(1);

        // The safety poll is an hour away: only the projection's NOTIFY can bring this change in.
        await fx.AppendAsync(lead, FitProfile(lead, T0.AddMinutes(1)), Engagement(lead, 1, T0.AddMinutes(2), ("form_submitted", "demo_request")));
        var asOf = DateTimeOffset.UtcNow;
        var verdict = await Eventually.Get(() => Task.FromResult(fx.Cached.Memory.TryAnswer(lead, asOf)), v => v.EventCount == 3,
            TimeSpan.FromSeconds(60), $"the new events of {lead} in memory");
        verdict.Should().Be((await AskAsync(fx.Database.Client(), lead, asOf)).Verdict);
    }

    [Fact]
    public async Task A_reset_reloads_every_view_and_drops_the_ones_gone()
    {
        var kept = TestEnvironment.Unique("reset-kept");
        var gone = TestEnvironment.Unique("reset-gone");
        await fx.AppendAsync(kept, Engagement(kept, 0, T0, ("page_viewed", "blog")));
        await fx.AppendAsync(gone, Engagement(gone, 0, T0, ("page_viewed", "blog")));
        await fx.CaughtUpAsync();
        fx.Cached.Memory.Contains(gone).Should().BeTrue();

        // A rebuild rewrites views without moving past the sequence memory has seen: only the reset brings them in.
        await fx.ScalarAsync("update {schema}.mt_doc_leadscoreview set data = jsonb_set(data, '{EventCount}', '41') where id = @id", ("id", kept));
        await fx.ScalarAsync("delete from {schema}.mt_doc_leadscoreview where id = @id", ("id", gone));
        await fx.ScalarAsync($"select pg_notify('{LeadScoreProjection.ChangesChannel(fx.Schema)}', 'reset')");

        var asOf = DateTimeOffset.UtcNow;
        await Eventually.Get(() => Task.FromResult(fx.Cached.Memory.TryAnswer(kept, asOf)), v => v.EventCount == 41,
            TimeSpan.FromSeconds(60), $"{kept} reloaded");
        await Eventually.Get(() => Task.FromResult<object?>(fx.Cached.Memory.Contains(gone) ? null : ""), _ => true,
            TimeSpan.FromSeconds(60), $"{gone} dropped");
    }

    [Fact]
    public async Task After_the_connection_to_PostgreSQL_breaks_the_feed_reconnects_and_catches_up_on_what_it_missed()
    {
        var lead = TestEnvironment.Unique("reconnect");
        await fx.AppendAsync(lead, Engagement(lead, 0, T0, ("page_viewed", "blog")));
        await fx.CaughtUpAsync();

        // What a database restart does to the feed: the server ends its session (the Api and the projection carry on).
        await fx.ScalarAsync("select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = @name",
            ("name", VerdictFeed.ApplicationName(fx.Schema)));
        await Eventually.Get(() => Task.FromResult<object?>(fx.Cached.Memory.Connected ? null : ""), _ => true, TimeSpan.FromSeconds(30), "the feed noticed");
        fx.Cached.Memory.TryAnswer(lead, DateTimeOffset.UtcNow).Should().NotBeNull("memory keeps answering while the feed is away");

        // Changed while nobody listens (the feed waits 2 s before reconnecting): no notification reaches memory.
        await fx.AppendAsync(lead, Engagement(lead, 1, T0.AddMinutes(5), ("page_viewed", "pricing")));
        await ProjectionProbe.ViewWhen(fx.Store, lead, v => v.EventCount == 2);

        var asOf = DateTimeOffset.UtcNow;
        var verdict = await Eventually.Get(() => Task.FromResult(fx.Cached.Memory.TryAnswer(lead, asOf)), v => v.EventCount == 2,
            TimeSpan.FromSeconds(60), $"the change to {lead} after reconnecting");
        fx.Cached.Memory.Connected.Should().BeTrue();
        verdict.Should().Be((await AskAsync(fx.Database.Client(), lead, asOf)).Verdict);
    }

    [Fact]
    public async Task The_cached_Api_is_ready_once_loaded()
    {
        using var http = fx.Cached.CreateClient();
        await fx.CaughtUpAsync();
        using var response = await http.GetAsync("/health/ready");
        var body = await response.Content.ReadAsStringAsync();
        response.IsSuccessStatusCode.Should().BeTrue(body);
        body.Should().Contain(VerdictCacheHealthCheck.Name);
    }
}

/// <summary>The memory form without a database: equal verdicts on many synthetic leads, and its size per lead.</summary>
public sealed class VerdictStateTests(ITestOutputHelper output)
{
    private static readonly ScoringModel Model = ScoringModel.Default;

    private static readonly (string Type, string? Category, int Weight)[] Mix =
    [
        ("page_viewed", "blog", 30), ("page_viewed", "product", 15), ("page_viewed", "pricing", 5), ("page_viewed", "case_study", 5),
        ("email_opened", null, 25), ("email_clicked", null, 8), ("content_downloaded", null, 5), ("webinar_attended", null, 3),
        ("form_submitted", "demo_request", 2), ("form_submitted", "newsletter", 2),
    ];

    /// <summary>A lead like the bench's (10 events on average over 30 days; a third with a fit profile), folded by the projection's library.</summary>
    private static LeadScoreView Lead(int n, Random random, DateTimeOffset now)
    {
        var id = $"bench-lead-{n:D6}";
        var view = new LeadScoreView { Id = id, Lifecycle = LeadLifecycle.Create(Model), ModelId = Model.Id, ModelVersion = Model.Version };
        var inputs = new List<LeadInput>();
        if (n % 3 == 0)
        {
            inputs.Add(new ProfileInput($"{id}-p", now.AddDays(-random.Next(30)), new LeadProfile("vp@acme-industries.com", "VP Engineering", 400, "software", "US", null)));
        }

        var events = random.Next(1, 20);
        for (var i = 0; i < events; i++)
        {
            var pick = random.Next(100);
            var m = Mix[0];
            foreach (var c in Mix)
            {
                if (pick < c.Weight) { m = c; break; }
                pick -= c.Weight;
            }

            inputs.Add(new EngagementInput(new ScoringEvent($"{Guid.NewGuid():N}"[..8] + $"-{n * 10 + i}", m.Type, now.AddSeconds(-random.Next(30 * 24 * 3600)), m.Category, $"mail-{random.Next(50)}")));
        }

        foreach (var input in inputs.OrderBy(i => i.At))
        {
            LeadTimeline.Record(view.Lifecycle, input, Model);
            if (input is EngagementInput e)
            {
                view.EventCount++;
                if (view.LastEventAt is null || e.At > view.LastEventAt) view.LastEventAt = e.At;
            }
        }

        return view;
    }

    [Fact]
    public void The_packed_state_answers_what_the_full_view_answers_and_its_size_per_lead_is_printed()
    {
        var random = new Random(5);
        var now = DateTimeOffset.UtcNow;
        var views = Enumerable.Range(0, 2_000).Select(n => Lead(n, random, now)).ToList();
        var mql = 0;
        foreach (var view in views)
        {
            var entry = VerdictState.TryPack(view, Model)!.Value;
            var unpacked = VerdictState.Unpack(view.Id, entry.Data, Model);
            var floor = new DateTimeOffset(entry.FloorTicks, TimeSpan.Zero);
            foreach (var asOf in new[] { floor, floor.AddTicks(1), now, now.AddHours(2), now.AddDays(20), now.AddDays(90), now.AddYears(3) })
            {
                var expected = VerdictEvaluation.Evaluate(view.Id, asOf, view, Model);
                VerdictEvaluation.Evaluate(view.Id, asOf, unpacked, Model).Should().Be(expected, $"{view.Id} at {asOf:O}");
                if (expected.IsMql) mql++;
            }
        }

        mql.Should().BeGreaterThan(0);

        // Memory per lead as the Api holds it: the key, the dictionary node, the entry and its bytes.
        const int count = 100_000;
        var packed = new List<(string, VerdictEntry)>(count);
        for (var n = 0; n < count; n++) packed.Add(($"bench-lead-{n:D6}", VerdictState.TryPack(views[n % views.Count], Model)!.Value));
        var before = GC.GetTotalMemory(true);
        var dictionary = new System.Collections.Concurrent.ConcurrentDictionary<string, VerdictEntry>(StringComparer.Ordinal);
        foreach (var (id, entry) in packed) dictionary[new string(id.AsSpan())] = entry with { Data = (byte[])entry.Data.Clone() };
        var after = GC.GetTotalMemory(true);
        var perLead = (after - before) / (double)count;
        var bytes = packed.Take(views.Count).Average(p => p.Item2.Data.Length);
        output.WriteLine($"{count:N0} leads held: {(after - before) / 1048576.0:N1} MB, {perLead:N0} bytes a lead ({bytes:N0} bytes packed state)");
        GC.KeepAlive(dictionary);
        perLead.Should().BeLessThan(1_000, "the issue's budget: 100 MB for 100k leads");
    }
}
