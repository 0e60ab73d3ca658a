using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>The Projections host (scheduler off: histories dated in the past stay put) and the Api in-process, on one schema.</summary>
public sealed class IdentityFixture : IAsyncLifetime
{
    public string Schema { get; } = TestEnvironment.UniqueSchema("itid");
    public WebApplication Projections { get; private set; } = null!;
    public SchemaApi Api { get; private set; } = null!;
    public IDocumentStore Store => Projections.Services.GetRequiredService<IDocumentStore>();

    public async Task InitializeAsync()
    {
        Projections = await ProjectionsHostFixture.StartAsync(Schema, settings: new Dictionary<string, string?> { ["Lifecycle:Scheduler:Enabled"] = "false" });
        Api = new SchemaApi(Schema);
        _ = Api.Server;
    }

    /// <summary>The appender Ingestion uses, on this fixture's store.</summary>
    public EngagementAppender Appender(int concurrency = 1)
    {
        var ingestion = Options.Create(new IngestionOptions { AppendConcurrency = concurrency, StoreRetryDelay = TimeSpan.FromMilliseconds(10) });
        return new EngagementAppender(Store, Options.Create(new EventStoreOptions
        {
            ConnectionString = TestEnvironment.PostgresConnectionString,
            Schema = Schema,
        }), ingestion, new StoreResilience(ingestion, NullLogger<StoreResilience>.Instance, TimeProvider.System));
    }

    private GrpcChannel Channel() =>
        GrpcChannel.ForAddress(Api.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(Api.Server.CreateHandler()) });

    public LeadScoring.LeadScoringClient Scoring() => new(Channel());
    public LeadQueries.LeadQueriesClient Queries() => new(Channel());
    public SalesFeedback.SalesFeedbackClient Feedback() => new(Channel());

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Projections.StopAsync();
        await Projections.DisposeAsync();
        await TestEnvironment.DropSchemaAsync(Schema);
    }
}

/// <summary>
/// Identity resolution on the real store: Ingestion's appender (links, routing, copies, locks) and the score projection.
/// DESIGN.md: "Data quality: ... resolve identity (anonymous visitor -> known lead)". Issue 10: the lead's score includes
/// the pre-identification engagement exactly once, whichever order identify and the anonymous events arrive in.
/// </summary>
public sealed class IdentityResolutionTests(IdentityFixture fx) : IClassFixture<IdentityFixture>
{
    private static readonly DateTimeOffset T0 = new DateTimeOffset(DateTimeOffset.UtcNow.AddDays(-90).Date, TimeSpan.Zero);

    [Fact]
    public async Task Identify_after_or_before_the_anonymous_events_gives_the_same_stored_ids_score_and_transitions()
    {
        var run = TestEnvironment.Unique("order");
        // The same anonymous engagement (same producer ids) for two visitors; one identifies last, the other first.
        var (late, lateAnon) = ($"{run}-late", $"{run}-late-visitor");
        var (early, earlyAnon) = ($"{run}-early", $"{run}-early-visitor");
        var appender = fx.Appender();
        foreach (var e in AnonymousVisit(run, lateAnon)) await AppendAsync(appender, e);
        await AppendAsync(appender, Identify(late, lateAnon, T0.AddMinutes(10)));
        await AppendAsync(appender, Identify(early, earlyAnon, T0.AddMinutes(10)));
        foreach (var e in AnonymousVisit(run, earlyAnon)) await AppendAsync(appender, e);

        var a = await fx.ViewWhen(late, v => v.EventCount == 4 && v.LinkedIdentities.Count == 1);
        var b = await fx.ViewWhen(early, v => v.EventCount == 4 && v.LinkedIdentities.Count == 1);

        foreach (var (lead, anon) in new[] { (late, lateAnon), (early, earlyAnon) })
        {
            var ids = (await fx.StreamAsync(lead)).Where(e => e.Data is EngagementRecorded).Select(e => e.Id);
            ids.Should().BeEquivalentTo(AnonymousVisit(run, anon).Select(e => IdentityAliases.CopyId(lead, e.Id)),
                "an anonymous event gets the same id in the lead's stream whether it was copied by the link or routed after it");
        }

        (await fx.CountAsync($"select count(*) from {fx.Schema}.mt_events where stream_id = @s", ("s", "anon:" + earlyAnon)))
            .Should().Be(0, "after identify, the visitor's events go to the lead only");
        Total(a).Should().Be(Total(b));
        Total(a).Should().BeGreaterThan(60, "fit 40 and the visitor's pricing, demo request and blog visit");
        a.Stage.Should().Be(b.Stage);
        a.EvaluatedUntil.Should().Be(b.EvaluatedUntil);
        var transitionsA = await fx.TransitionsAsync(late);
        transitionsA.Should().NotBeEmpty();
        (await fx.TransitionsAsync(early)).Should().Equal(transitionsA, "the same transitions (ids, kinds, instants) in both orders");
        a.LinkedIdentities.Single().Should().Match<IdentityLinked>(l => l.LinkedKey == "anon:" + lateAnon && l.Kind == IdentityKind.Anonymous && l.EventsCopied == 3);
        b.LinkedIdentities.Single().EventsCopied.Should().Be(0);

        // Later anonymous activity (a visitor not logged in on another page) counts for the lead.
        await AppendAsync(appender, Anonymous(lateAnon, "page_viewed", "product", T0.AddMinutes(20), $"{run}-later"));
        (await fx.ViewWhen(late, v => v.EventCount == 5)).LastEventAt.Should().Be(T0.AddMinutes(20));
        (await fx.CountAsync($"select count(*) from {fx.Schema}.mt_events where stream_id = @s", ("s", "anon:" + lateAnon))).Should().Be(4,
            "three events and the MergedInto marker: nothing after the link");
        (await fx.ViewWhen("anon:" + lateAnon, v => v.MergedInto is not null)).MergedInto.Should().Be(late);
    }

    [Fact]
    public async Task Every_message_redelivered_and_a_second_identify_change_nothing()
    {
        var run = TestEnvironment.Unique("redeliver");
        var (lead, anon) = ($"{run}-lead", $"{run}-visitor");
        var appender = fx.Appender(concurrency: 2);
        var messages = AnonymousVisit(run, anon).Append(Identify(lead, anon, T0.AddMinutes(10))).ToList();
        foreach (var m in messages) await AppendAsync(appender, m);
        await fx.ViewWhen(lead, v => v.EventCount == 4);
        var stored = await fx.CountAsync($"select count(*) from {fx.Schema}.mt_events", []);

        var again = await appender.AppendAsync(messages.Concat(messages).Select(Pending).ToList(), CancellationToken.None);
        var relink = await AppendAsync(appender, Link(lead, $"{run}-link-again", anonymousId: anon));

        again.Appended.Should().Be(0);
        again.Duplicates.Should().Be(2 * messages.Count);
        relink.Should().Be(new AppendResult(0, 1), "linking an identity already linked to the lead is a no-op");
        (await fx.CountAsync($"select count(*) from {fx.Schema}.mt_events", [])).Should().Be(stored, "nothing was stored again");
        // A sentinel after the redeliveries: once it is scored, everything before it was too.
        await AppendAsync(appender, Anonymous(anon, "email_opened", null, T0.AddMinutes(30), $"{run}-sentinel"));
        var view = await fx.ViewWhen(lead, v => v.EventCount >= 5);
        view.EventCount.Should().Be(5);
        view.LinkedIdentities.Should().ContainSingle();
    }

    [Fact]
    public async Task Merging_two_leads_counts_each_event_once_including_an_anonymous_id_linked_to_the_merged_lead()
    {
        var run = TestEnvironment.Unique("merge");
        var (survivor, merged, anon) = ($"{run}-survivor", $"{run}-merged", $"{run}-visitor");
        var appender = fx.Appender();
        await AppendAsync(appender, Events.Profile(survivor, T0, Events.FitTraits) with { Id = $"{run}-fit" });
        await AppendAsync(appender, Events.Engagement(merged, "page_viewed", T0.AddMinutes(1), "pricing", $"{run}-m1"));
        foreach (var e in AnonymousVisit(run, anon)) await AppendAsync(appender, e);
        await AppendAsync(appender, Link(merged, $"{run}-identify", anonymousId: anon));

        var result = await AppendAsync(appender, Link(survivor, $"{run}-alias", previousId: merged));
        result.Should().Be(new AppendResult(1, 0));
        // The visitor was linked to the merged lead: it now belongs to the survivor, so linking it there is a no-op...
        (await AppendAsync(appender, Link(survivor, $"{run}-identify-again", anonymousId: anon))).Should().Be(new AppendResult(0, 1));
        // ...and its later events count for the survivor.
        await AppendAsync(appender, Anonymous(anon, "webinar_attended", null, T0.AddMinutes(30), $"{run}-later"));

        var view = await fx.ViewWhen(survivor, v => v.EventCount == 1 + 1 + 3 + 1);
        var sources = (await fx.StreamAsync(survivor)).Select(e => e.Data).OfType<EngagementRecorded>().Select(r => r.SourceEventId).ToList();
        sources.Should().OnlyHaveUniqueItems().And.HaveCount(5);
        view.LinkedIdentities.Select(l => (l.LinkedKey, l.Kind)).Should().BeEquivalentTo(
            [(merged, IdentityKind.Lead), ("anon:" + anon, IdentityKind.Anonymous)], "the merged lead's own link moves with it");
        (await fx.ViewWhen(merged, v => v.MergedInto is not null)).MergedInto.Should().Be(survivor);

        // The Api answers for the merged id with the survivor's verdict, and refuses feedback on it, naming the survivor.
        // The Api answers from memory, which follows the views' change feed a moment behind the documents just read.
        var verdict = await Eventually.Get(async () => await fx.Scoring().GetVerdictAsync(new GetVerdictRequest { LeadId = merged }),
            v => v.LeadId == survivor, TimeSpan.FromSeconds(30), $"the verdict of {merged} answered by {survivor}");
        (verdict.LeadId, verdict.RequestedId).Should().Be((survivor, merged));
        verdict.EventCount.Should().Be(6);
        verdict.LinkedIdentities.Select(l => l.StreamKey).Should().BeEquivalentTo([merged, "anon:" + anon]);
        var timeline = await fx.Queries().GetLeadTimelineAsync(new GetLeadTimelineRequest { LeadId = "anon:" + anon });
        timeline.LeadId.Should().Be(survivor);
        timeline.Events.Should().Contain(e => e.Type == nameof(IdentityLinked) && e.LinkedIdentity.Id == merged && e.LinkedIdentity.Kind == "lead");
        var listed = (await fx.Queries().ListLeadsAsync(new ListLeadsRequest { PageSize = 500 })).Leads.Select(l => l.LeadId).ToList();
        listed.Should().Contain(survivor).And.NotContain(merged, "a merged lead is not listed as a lead of its own").And.NotContain("anon:" + anon);
        var refused = await FluentActions.Awaiting(() => fx.Feedback().RecordSalesFeedbackAsync(new RecordSalesFeedbackRequest
        {
            LeadId = merged, Action = SalesActionType.Disqualify, Actor = "rep@acme.com", IdempotencyKey = run, Reason = "test",
        }).ResponseAsync).Should().ThrowAsync<RpcException>();
        refused.Which.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        refused.Which.Status.Detail.Should().Contain(survivor);
    }

    [Fact]
    public async Task A_chain_of_links_derives_every_copy_from_the_original_ids_and_a_link_back_is_refused_as_a_cycle()
    {
        var run = TestEnvironment.Unique("chain");
        var (a, b, c) = ($"{run}-visitor", $"{run}-b", $"{run}-c");
        var appender = fx.Appender();
        foreach (var e in AnonymousVisit(run, a)) await AppendAsync(appender, e);
        await AppendAsync(appender, Identify(b, a, T0.AddMinutes(5)));
        await AppendAsync(appender, Events.Engagement(c, "email_opened", T0.AddMinutes(6), null, $"{run}-c1"));
        await AppendAsync(appender, Link(c, $"{run}-merge", previousId: b));
        await AppendAsync(appender, Anonymous(a, "page_viewed", "blog", T0.AddMinutes(40), $"{run}-later"));

        var view = await fx.ViewWhen(c, v => v.EventCount == 3 + 1 + 1 + 1);
        var stored = await fx.StreamAsync(c);
        stored.Where(e => e.Data is EngagementRecorded or ProfileUpdated).Select(e => e.Id).Should().BeEquivalentTo(
            AnonymousVisit(run, a).Select(e => IdentityAliases.CopyId(c, e.Id))
                .Concat([IdentityAliases.CopyId(c, IdentifyId(b)), EventIds.FromSourceId($"{run}-c1"), IdentityAliases.CopyId(c, $"{run}-later")]),
            "copies of copies are derived from the producer's ids, never from an intermediate copy's id");
        view.LinkedIdentities.Select(l => l.LinkedKey).Should().BeEquivalentTo([b, "anon:" + a]);

        var cycle = await AppendAsync(appender, Link(b, $"{run}-back", previousId: c));
        cycle.Rejected.Should().ContainSingle().Which.Should().Match<StoreRejection>(r =>
            r.Code == RejectionCodes.IdentityConflict && r.Reason.Contains("cycle") && r.Reason.Contains(c));
        var conflict = await AppendAsync(appender, Link($"{run}-other", $"{run}-steal", anonymousId: a));
        conflict.Rejected.Should().ContainSingle().Which.Reason.Should().Contain($"already linked to lead '{c}'");
        (await fx.CountAsync($"select count(*) from {fx.Schema}.{IdentityAliases.TableName} where lead_id = @c", ("c", c))).Should().Be(3,
            "anon:<visitor> and the merged lead's two keys, re-pointed to the end of the chain; the refused links wrote nothing");
    }

    [Fact]
    public async Task Anonymous_events_and_the_identify_appended_by_concurrent_transactions_are_each_stored_once()
    {
        for (var round = 0; round < 5; round++)
        {
            var run = TestEnvironment.Unique($"race{round}");
            var (lead, anon) = ($"{run}-lead", $"{run}-visitor");
            var anonymous = Enumerable.Range(0, 40)
                .Select(i => Anonymous(anon, "page_viewed", "blog", T0.AddMinutes(i), $"{run}-{i}")).ToList();
            // Separate appender calls, as from two partitions (keyed by anonymous id and by lead id) or two instances.
            var calls = anonymous.Chunk(5).Select(chunk => (IReadOnlyList<PendingEvent>)chunk.Select(Pending).ToList())
                .Append([Pending(Identify(lead, anon, T0.AddMinutes(20)))])
                .Select(batch => Task.Run(() => fx.Appender().AppendAsync(batch, CancellationToken.None)));
            var results = await Task.WhenAll(calls);

            results.Sum(r => r.Appended).Should().Be(41);
            var counts = await fx.CountAsync(
                $"select count(*) from {fx.Schema}.mt_events where stream_id = @lead and id = any(@ids)",
                ("lead", lead), ("ids", anonymous.Select(e => IdentityAliases.CopyId(lead, e.Id)).ToArray()));
            counts.Should().Be(40, $"round {round}: every anonymous event is in the lead's stream, under its one id");
            (await fx.StreamAsync(lead)).Select(e => e.Data).OfType<EngagementRecorded>().Select(r => r.SourceEventId)
                .Should().OnlyHaveUniqueItems("no producer event twice").And.HaveCount(40);
            (await fx.ViewWhen(lead, v => v.EventCount >= 41)).EventCount.Should().Be(41);
        }
    }

    [Fact]
    public async Task A_link_whose_transaction_dies_mid_way_is_retried_and_counts_exactly()
    {
        var run = TestEnvironment.Unique("killed");
        var (lead, anon) = ($"{run}-lead", $"{run}-visitor");
        var appender = fx.Appender();
        foreach (var e in AnonymousVisit(run, anon)) await AppendAsync(appender, e);
        // The backend serving the link's transaction terminates itself at its alias insert (the first time only): the
        // copies already sent in that transaction die with it, like a crash of the Ingestion process would leave them.
        var sequence = $"{fx.Schema}.kill_once_{Guid.NewGuid():N}"[..60];
        await fx.ExecuteAsync($"""
            create sequence {sequence};
            create function {fx.Schema}.kill_once() returns trigger language plpgsql as $$
            begin
              if new.alias = '{"anon:" + anon}' and nextval('{sequence}') = 1 then perform pg_terminate_backend(pg_backend_pid()); end if;
              return new;
            end $$;
            create trigger kill_once before insert on {fx.Schema}.{IdentityAliases.TableName} for each row execute function {fx.Schema}.kill_once();
            """);
        try
        {
            var result = await AppendAsync(appender, Identify(lead, anon, T0.AddMinutes(10)));
            result.Should().Be(new AppendResult(1, 0));
        }
        finally
        {
            await fx.ExecuteAsync($"drop trigger kill_once on {fx.Schema}.{IdentityAliases.TableName}; drop function {fx.Schema}.kill_once()");
        }

        (await fx.CountAsync($"select last_value from {sequence}", [])).Should().BeGreaterThan(1, "the first attempt was killed and retried");
        (await fx.CountAsync($"select count(*) from {fx.Schema}.mt_events where stream_id = @s", ("s", lead))).Should().Be(3 + 1 + 1);
        (await fx.ViewWhen(lead, v => v.EventCount == 4)).LinkedIdentities.Should().ContainSingle();
    }

    [Fact]
    public async Task An_identify_whose_anonymous_id_belongs_to_another_lead_stores_the_profile_and_leaves_the_link_out()
    {
        // A shared browser: the visitor identified as one lead, later another person logs in on it. The second identify's
        // traits are that person's profile; only the link contradicts the first one (an identity belongs to one lead).
        var run = TestEnvironment.Unique("shared");
        var (first, second, anon) = ($"{run}-first", $"{run}-second", $"{run}-visitor");
        var appender = fx.Appender();
        foreach (var e in AnonymousVisit(run, anon)) await AppendAsync(appender, e);
        await AppendAsync(appender, Identify(first, anon, T0.AddMinutes(5)));

        var result = await AppendAsync(appender, Identify(second, anon, T0.AddMinutes(6)));

        result.Rejected.Should().BeEmpty("the profile is valid and is the second lead's");
        result.Appended.Should().Be(1);
        var view = await fx.ViewWhen(second, v => v.EventCount == 1);
        view.LinkedIdentities.Should().BeEmpty("the anonymous id stays linked to the first lead");
        (await fx.StreamAsync(second)).Select(e => e.Data).Should().ContainSingle().Which.Should().BeOfType<ProfileUpdated>();
        (await fx.CountAsync($"select count(*) from {fx.Schema}.{IdentityAliases.TableName} where alias = @a and lead_id = @l", ("a", "anon:" + anon), ("l", first)))
            .Should().Be(1);
    }

    private static double Total(LeadScoreView view) =>
        Scorer.Evaluate(view.State, ScoringModel.Default, view.EvaluatedUntil!.Value).TotalScore;

    private static string IdentifyId(string lead) => $"{lead}-identify";

    private static IEnumerable<EngagementEvent> AnonymousVisit(string run, string anon) =>
    [
        Anonymous(anon, "page_viewed", "pricing", T0, $"{run}-pricing"),
        Anonymous(anon, "form_submitted", "demo_request", T0.AddMinutes(1), $"{run}-demo"),
        Anonymous(anon, "page_viewed", "blog", T0.AddMinutes(2), $"{run}-blog"),
    ];

    private static EngagementEvent Anonymous(string anon, string type, string? category, DateTimeOffset at, string id) =>
        Events.Engagement("unused", type, at, category, id) with { LeadId = null, AnonymousId = anon };

    /// <summary>Segment's identify: a profile update carrying both the lead id and the anonymous id.</summary>
    private static EngagementEvent Identify(string lead, string anon, DateTimeOffset at) =>
        Events.Profile(lead, at, Events.FitTraits) with { Id = IdentifyId(lead), AnonymousId = anon };

    private static EngagementEvent Link(string lead, string id, string? anonymousId = null, string? previousId = null) => new()
    {
        Id = id,
        Type = EngagementEventTypes.IdentityLinked,
        LeadId = lead,
        AnonymousId = anonymousId,
        OccurredAt = T0.AddMinutes(15),
        Properties = previousId is null ? null : new() { ["previousId"] = JsonSerializer.SerializeToElement(previousId) },
    };

    /// <summary>What the consumer makes of a valid message.</summary>
    private static PendingEvent Pending(EngagementEvent e)
    {
        EngagementEventParser.Validate(e, OccurredAtWindow.Default(TimeProvider.System)).Should().BeNull();
        return new PendingEvent(e.StreamKey, EventIds.FromSourceId(e.Id), EngagementMapper.ToDomainEvent(e), null) { Link = EngagementMapper.LinkOf(e) };
    }

    private static Task<AppendResult> AppendAsync(EngagementAppender appender, EngagementEvent e) =>
        appender.AppendAsync([Pending(e)], CancellationToken.None);
}

internal static class IdentityFixtureProbes
{
    public static Task<LeadScoreView> ViewWhen(this IdentityFixture fx, string lead, Func<LeadScoreView, bool> until) =>
        ProjectionProbe.ViewWhen(fx.Store, lead, until);

    public static async Task<IReadOnlyList<JasperFx.Events.IEvent>> StreamAsync(this IdentityFixture fx, string lead)
    {
        await using var query = fx.Store.QuerySession();
        return await query.Events.FetchStreamAsync(lead);
    }

    public static async Task<long> CountAsync(this IdentityFixture fx, string sql, params (string Name, object Value)[] parameters) =>
        Convert.ToInt64(await ScalarAsync(sql, parameters), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<object?> ScalarAsync(string sql, (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return await command.ExecuteScalarAsync();
    }

    public static async Task ExecuteAsync(this IdentityFixture fx, string sql)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The lead's effective lifecycle transitions (published, not retracted): id, type, instant.</summary>
    public static async Task<List<(string? Id, string Type, DateTimeOffset At)>> TransitionsAsync(this IdentityFixture fx, string lead)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select payload::text from {fx.Schema}.{LifecycleOutbox.TableName} where lead_id = @lead order by position", connection);
        command.Parameters.AddWithValue("lead", lead);
        await using var reader = await command.ExecuteReaderAsync();
        var messages = new List<LeadLifecycleMessage>();
        while (await reader.ReadAsync()) messages.Add(JsonSerializer.Deserialize<LeadLifecycleMessage>(reader.GetString(0), ContractJson.Options)!);
        var retracted = messages.Where(m => m.Type == LifecycleMessageTypes.TransitionRetracted).Select(m => m.TransitionId).ToHashSet();
        return messages.Where(m => m.Type != LifecycleMessageTypes.TransitionRetracted && !retracted.Contains(m.TransitionId))
            .Select(m => (m.TransitionId, m.Type, m.OccurredAt)).ToList();
    }
}
