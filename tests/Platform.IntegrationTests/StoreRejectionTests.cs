using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ScoringPlatform.Contracts;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Messaging;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// Events PostgreSQL refuses are isolated and dead-lettered alone; the rest of their batch is stored. The refusal
/// is real: a CHECK constraint on this fixture's own mt_events rejects events whose source id starts with 'poison-'.
/// </summary>
public sealed class StoreRejectionTests(StoreFixture fixture) : IClassFixture<StoreFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset At = DateTimeOffset.UtcNow.AddMinutes(-5);

    public Task InitializeAsync() => fixture.ExecuteAsync("""
        alter table {schema}.mt_events drop constraint if exists no_poison;
        alter table {schema}.mt_events add constraint no_poison check (coalesce(data->>'sourceEventId', data->>'SourceEventId', '') not like 'poison-%');
        """);

    public Task DisposeAsync() => Task.CompletedTask;

    private static PendingEvent Pending(string lead, string sourceId) =>
        new(lead, EventIds.FromSourceId(sourceId), new EngagementRecorded(sourceId, "page_viewed", At, "pricing", null, "tests", null), null);

    [Fact]
    public async Task A_refused_event_is_isolated_by_bisection_and_the_rest_of_the_batch_is_stored_once()
    {
        var leads = Enumerable.Range(0, 7).Select(_ => TestEnvironment.Unique("lead")).ToArray();
        var batch = Enumerable.Range(0, 50).Select(i => Pending(leads[i % 7], $"{leads[i % 7]}-{i}")).ToList();
        var poison = Pending(leads[3], "poison-" + Guid.NewGuid().ToString("N"));
        batch.Insert(23, poison);

        var result = await fixture.Appender(new IngestionOptions { AppendConcurrency = 2 }).AppendAsync(batch, CancellationToken.None);

        result.Appended.Should().Be(50);
        result.Rejected.Should().ContainSingle().Which.Event.Should().Be(poison);
        result.Rejected[0].Reason.Should().StartWith("SQLSTATE 23514").And.Contain("no_poison");
        await using var query = fixture.Store.QuerySession();
        for (var l = 0; l < leads.Length; l++)
        {
            var stream = await query.Events.FetchStreamAsync(leads[l]);
            stream.Select(e => ((EngagementRecorded)e.Data).SourceEventId).Should().Equal(
                Enumerable.Range(0, 50).Where(i => i % 7 == l).Select(i => $"{leads[l]}-{i}"), "each valid event once, in order");
        }
    }

    [Fact]
    public async Task The_consumer_dead_letters_the_refused_message_alone_with_store_rejected_and_stores_the_rest()
    {
        var deadLetterTopic = TestEnvironment.Unique("dlq-test");
        var kafka = Options.Create(new KafkaOptions { BootstrapServers = TestEnvironment.KafkaBootstrap, DeadLetterTopic = deadLetterTopic });
        var ingestion = new IngestionOptions { AppendConcurrency = 2 };
        using var deadLetters = new DeadLetterPublisher(kafka);
        var consumer = new EngagementConsumer(kafka, Options.Create(ingestion), fixture.Appender(ingestion), deadLetters,
            new StoreResilience(Options.Create(ingestion), NullLogger<StoreResilience>.Instance, TimeProvider.System), new IngestionProgress(TimeProvider.System), TimeProvider.System, NullLogger<EngagementConsumer>.Instance);

        var leads = Enumerable.Range(0, 5).Select(_ => TestEnvironment.Unique("lead")).ToArray();
        var poisonId = "poison-" + Guid.NewGuid().ToString("N");
        var messages = Enumerable.Range(0, 40).Select(i => Events.Engagement(leads[i % 5], EngagementEventTypes.PageViewed, At, id: $"{leads[i % 5]}-{i}")).ToList();
        messages.Insert(17, Events.Engagement(leads[2], EngagementEventTypes.PageViewed, At, id: poisonId));
        var offset = 0L;
        var batch = messages.Select(e => Message(e.StreamKey, Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(e, ContractJson.Options)), offset++)).ToList();

        await consumer.ProcessBatchAsync(batch, CancellationToken.None);
        // A sentinel after it, with the same key (so the same partition): once it is in the dead-letter topic,
        // everything the first batch dead-lettered is there too.
        await consumer.ProcessBatchAsync([Message(leads[2], "not json"u8.ToArray(), offset)], CancellationToken.None);

        using var kafkaClient = new KafkaTestClient(TestEnvironment.KafkaBootstrap);
        static bool IsSentinel(ConsumeResult<string, byte[]> m) => m.Message.Value.AsSpan().SequenceEqual("not json"u8);
        var dead = kafkaClient.ConsumeUntil(deadLetterTopic, _ => true, found => found.Any(IsSentinel), TimeSpan.FromSeconds(60));
        dead.Should().HaveCount(2);
        var refused = dead.Single(m => !IsSentinel(m));
        KafkaTestClient.Header(refused, Contracts.Headers.DeadLetterErrorCode).Should().Be(RejectionCodes.StoreRejected);
        KafkaTestClient.Header(refused, Contracts.Headers.DeadLetterReason).Should().StartWith("SQLSTATE 23514");
        KafkaTestClient.Header(refused, Contracts.Headers.DeadLetterOffset).Should().Be("17");
        Encoding.UTF8.GetString(refused.Message.Value).Should().Contain(poisonId);
        foreach (var lead in leads) (await fixture.CountEventsAsync(lead)).Should().Be(8);
    }

    [Fact]
    public async Task Messages_without_a_producer_trace_are_each_their_own_trace_root_not_nested_in_the_previous_one()
    {
        // The message spans of a batch stay open until its append is done; without a producer context each one used to
        // take the previous one as its parent, a chain as long as the batch (and quadratic CPU to read the contexts).
        var leads = Enumerable.Range(0, 3).Select(_ => TestEnvironment.Unique("trace")).ToHashSet();
        var spans = new System.Collections.Concurrent.ConcurrentBag<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == ServiceDefaults.PlatformTelemetry.ActivitySourceName,
            Sample = static (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) =>
                System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.OperationName.EndsWith(" process", StringComparison.Ordinal) && a.GetTagItem("lead.id") is string lead && leads.Contains(lead)) spans.Add(a);
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var kafka = Options.Create(new KafkaOptions { BootstrapServers = TestEnvironment.KafkaBootstrap, DeadLetterTopic = TestEnvironment.Unique("dlq-test") });
        var ingestion = new IngestionOptions();
        using var deadLetters = new DeadLetterPublisher(kafka);
        var consumer = new EngagementConsumer(kafka, Options.Create(ingestion), fixture.Appender(ingestion), deadLetters,
            new StoreResilience(Options.Create(ingestion), NullLogger<StoreResilience>.Instance, TimeProvider.System), new IngestionProgress(TimeProvider.System), TimeProvider.System, NullLogger<EngagementConsumer>.Instance);
        var offset = 0L;
        var batch = leads.SelectMany(lead => Enumerable.Range(0, 4).Select(i => Events.Engagement(lead, EngagementEventTypes.PageViewed, At, id: $"{lead}-{i}")))
            .Select(e => Message(e.StreamKey, Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(e, ContractJson.Options)), offset++))
            .ToList();

        await consumer.ProcessBatchAsync(batch, CancellationToken.None);

        spans.Should().HaveCount(12);
        spans.Should().OnlyContain(a => a.Parent == null && a.ParentSpanId == default);
        spans.Select(a => a.TraceId).Distinct().Should().HaveCount(12, "each message starts its own trace");
        foreach (var lead in leads) (await fixture.CountEventsAsync(lead)).Should().Be(4);
    }

    [Fact]
    public async Task PostgreSQL_refuses_NUL_that_the_contract_keeps_out()
    {
        var lead = TestEnvironment.Unique("lead");
        var nul = Pending(lead, lead + "-a\0b");

        var result = await fixture.Appender(new IngestionOptions { UnknownFailureRetries = 0 })
            .AppendAsync([Pending(lead, lead + "-ok"), nul], CancellationToken.None);

        result.Rejected.Should().ContainSingle().Which.Event.Should().Be(nul);
        result.Rejected[0].Reason.Should().StartWith("SQLSTATE 22");
        (await fixture.CountEventsAsync(lead)).Should().Be(1);
        EngagementEventRules.IdentifierProblem(lead + "-a\0b").Should().NotBeNull("the parser refuses what the store would");
    }

    [Fact]
    public async Task Strings_the_parser_accepts_round_trip_through_the_real_store()
    {
        var lead = TestEnvironment.Unique("lead");
        string[] texts = ["Zoë Ångström", "李小龍 \ud83d\ude00 \ud834\udd1e", "tab-free \u00a0 nbsp, ‮rtl‬ marks", "quote \" backslash \\ slash /", new string('x', 200)];
        var window = OccurredAtWindow.Default(TimeProvider.System);
        var pending = new List<PendingEvent>();
        for (var i = 0; i < texts.Length; i++)
        {
            var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new EngagementEvent
            {
                Id = $"{lead}-{i}",
                Type = EngagementEventTypes.ProfileUpdated,
                LeadId = lead,
                OccurredAt = At,
                Source = texts[i],
                Traits = new LeadTraits { JobTitle = texts[i], Industry = texts[i] },
            }, ContractJson.Options);
            EngagementEventParser.TryParse(json, window, out var evt, out var reason).Should().BeTrue(reason?.ToString());
            pending.Add(new PendingEvent(evt!.StreamKey, EventIds.FromSourceId(evt.Id), EngagementMapper.ToDomainEvent(evt), null));
        }

        var result = await fixture.Appender(new IngestionOptions()).AppendAsync(pending, CancellationToken.None);

        result.Rejected.Should().BeEmpty();
        await using var query = fixture.Store.QuerySession();
        var stored = (await query.Events.FetchStreamAsync(lead)).Select(e => (ProfileUpdated)e.Data).ToList();
        stored.Select(p => p.JobTitle).Should().Equal(texts);
        stored.Select(p => p.Source).Should().Equal(texts);
    }

    private static ConsumeResult<byte[]?, byte[]?> Message(string key, byte[] value, long offset) => new()
    {
        Topic = Topics.EngagementEvents,
        Partition = new Partition(0),
        Offset = new Offset(offset),
        Message = new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(key), Value = value, Headers = [] },
    };
}
