using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Npgsql;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.EndToEnd.Tests;

[Collection(PlatformCollection.Name)]
public sealed class PlatformEndToEndTests(PlatformFixture platform)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;


    [Fact]
    public async Task An_event_produced_to_Kafka_is_scored_and_served_over_gRPC_and_REST()
    {
        var lead = TestEnvironment.Unique("lead");
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, Events.Engagement(lead, EngagementEventTypes.PageViewed, Now, PageCategories.Pricing));

        var verdict = await platform.VerdictWhen(lead, v => v.EventCount == 1);
        verdict.EngagementScore.Should().BeGreaterThan(0);
        verdict.ModelId.Should().NotBeNullOrEmpty();
        verdict.Contributions.Should().Contain(c => c.Count == 1 && c.RawPoints > 0);

        using var response = await platform.Rest.GetAsync($"/v1/leads/{lead}/verdict");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        json.RootElement.GetProperty("leadId").GetString().Should().Be(lead);
        json.RootElement.GetProperty("engagementScore").GetDouble().Should().BeApproximately(verdict.EngagementScore, 0.01);
    }

    [Fact]
    public async Task Crossing_the_threshold_publishes_exactly_one_MqlCrossed_continuing_the_producers_trace()
    {
        var lead = TestEnvironment.Unique("lead");
        var traceId = ActivityTraceId.CreateRandom();
        string TraceParent() => $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01";

        // Pricing page + demo request + contact-sales form: well over the enter threshold.
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, Events.Engagement(lead, EngagementEventTypes.PageViewed, Now, PageCategories.Pricing), TraceParent());
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, Events.Engagement(lead, EngagementEventTypes.FormSubmitted, Now, FormTypes.DemoRequest), TraceParent());
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, Events.Engagement(lead, EngagementEventTypes.FormSubmitted, Now, FormTypes.ContactSales), TraceParent());

        var verdict = await platform.VerdictWhen(lead, v => v.EventCount == 3);
        verdict.IsMql.Should().BeTrue($"total {verdict.TotalScore} should pass the threshold");
        verdict.QualifiedBy.Should().Be("threshold", "points, not a qualification rule, qualified this lead");
        verdict.TierReason.Should().NotBeNullOrWhiteSpace();

        // Sentinel: a competitor email disqualifies the lead, so a LeadDisqualified follows the crossing on the same
        // key; once it is read, every message published before it for this lead has been read too.
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead,
            Events.Profile(lead, Now.AddSeconds(1), new LeadTraits { Email = "someone@rivalscore.io" }));
        var published = platform.Kafka.ConsumeUntil(Topics.LeadLifecycle, r => r.Message.Key == lead,
            found => found.Any(r => KafkaTestClient.Header(r, Headers.MessageType) == LifecycleMessageTypes.LeadDisqualified), Wait);
        published.Select(r => KafkaTestClient.Header(r, Headers.MessageType)).Should()
            .Equal([LifecycleMessageTypes.MqlCrossed, LifecycleMessageTypes.LeadDisqualified], $"one crossing means one message\n{platform.Logs()}");
        var crossed = published.Take(1).ToList();
        var message = JsonSerializer.Deserialize<LeadLifecycleMessage>(crossed[0].Message.Value, ContractJson.Options)!;
        message.Type.Should().Be(LifecycleMessageTypes.MqlCrossed);
        message.LeadId.Should().Be(lead);
        message.Score.Should().BeGreaterThanOrEqualTo(50);
        KafkaTestClient.Header(crossed[0], Headers.MessageId).Should().Be(message.MessageId.ToString());
        KafkaTestClient.Header(crossed[0], Headers.TraceParent).Should().Contain(traceId.ToString(),
            "the trace runs from the produced event through the append and projection to the publish");
    }

    [Fact]
    public async Task A_duplicate_event_id_does_not_change_the_score()
    {
        var lead = TestEnvironment.Unique("lead");
        var control = TestEnvironment.Unique("control");
        var first = Events.Engagement(lead, EngagementEventTypes.WebinarAttended, Now);
        var second = Events.Engagement(lead, EngagementEventTypes.PageViewed, Now, PageCategories.Product);

        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, first);
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, first);
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, second);
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, first with { });
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, control, first with { Id = control + "-1", LeadId = control });
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, control, second with { Id = control + "-2", LeadId = control });

        // Sentinel: a later event on the same key; once it is scored, every copy produced before it was consumed.
        var sentinel = Events.Engagement(lead, EngagementEventTypes.EmailOpened, Now);
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, sentinel);
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, control, sentinel with { Id = control + "-3", LeadId = control });

        var controlVerdict = await platform.VerdictWhen(control, v => v.EventCount == 3);
        await platform.VerdictWhen(lead, v => v.Contributions.Any(c => c.RuleId == "email_opened" && c.Count == 1));
        var verdict = await platform.Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = lead, AsOf = controlVerdict.AsOf });
        var controlAtSameInstant = await platform.Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = control, AsOf = controlVerdict.AsOf });

        verdict.EventCount.Should().Be(3, "three distinct event ids were produced, the copies count once");
        verdict.TotalScore.Should().BeApproximately(controlAtSameInstant.TotalScore, 1e-9);
    }

    [Fact]
    public async Task A_poison_message_is_dead_lettered_with_its_reason_and_later_events_are_still_scored()
    {
        var lead = TestEnvironment.Unique("lead");
        var poison = Encoding.UTF8.GetBytes("{ this is not json " + lead);
        await platform.Kafka.ProduceRawAsync(Topics.EngagementEvents, lead, poison);
        await platform.Kafka.ProduceRawAsync(Topics.EngagementEvents, lead,
            Encoding.UTF8.GetBytes($$"""{"id":"{{lead}}-x","type":"teleported","leadId":"{{lead}}","occurredAt":"2026-11-01T10:00:00Z"}"""));
        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead, Events.Engagement(lead, EngagementEventTypes.EmailClicked, Now));

        var verdict = await platform.VerdictWhen(lead, v => v.EventCount == 1);
        verdict.EventCount.Should().Be(1);

        var dead = platform.Kafka.ConsumeUntil(Topics.EngagementEventsDeadLetter, r => r.Message.Key == lead, found => found.Count >= 2, Wait);
        dead.Should().HaveCount(2);
        dead[0].Message.Value.Should().Equal(poison, "the original bytes are kept");
        KafkaTestClient.Header(dead[0], Headers.DeadLetterErrorCode).Should().Be("malformed_json");
        KafkaTestClient.Header(dead[0], Headers.DeadLetterReason).Should().NotBeNullOrWhiteSpace();
        KafkaTestClient.Header(dead[0], Headers.DeadLetterTopic).Should().Be(Topics.EngagementEvents);
        KafkaTestClient.Header(dead[1], Headers.DeadLetterErrorCode).Should().Be("unknown_type");
    }

    [Fact]
    public async Task Invalid_and_unknown_lead_ids_get_clear_errors_over_gRPC_and_REST()
    {
        var invalid = async () => await platform.Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = "" });
        (await invalid.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
        var unknown = async () => await platform.Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = TestEnvironment.Unique("nobody") });
        (await unknown.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);

        using var bad = await platform.Rest.GetAsync("/v1/leads/%20lead/verdict");
        bad.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        bad.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using var notFound = await platform.Rest.GetAsync($"/v1/leads/{TestEnvironment.Unique("nobody")}/verdict");
        notFound.StatusCode.Should().Be(HttpStatusCode.NotFound);
        using var problem = JsonDocument.Parse(await notFound.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("status").GetInt32().Should().Be(404);
        problem.RootElement.GetProperty("detail").GetString().Should().Contain("not known");
    }

    [Fact]
    public async Task The_api_serves_swagger_grpc_health_and_reflection()
    {
        using var swagger = await platform.Rest.GetAsync("/swagger/v1/swagger.json");
        swagger.StatusCode.Should().Be(HttpStatusCode.OK);
        (await swagger.Content.ReadAsStringAsync()).Should().Contain("/v1/leads/{lead_id}/verdict");

        var health = new Grpc.Health.V1.Health.HealthClient(platform.Channel);
        var status = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        status.Status.Should().Be(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task The_api_is_ready_on_PostgreSQL_alone_without_any_Kafka_setting()
    {
        // The fixture's Api already runs without Kafka__ variables (ServiceProcess passes on none it is not given);
        // its readiness lists exactly the dependency it uses, and the verdicts it holds in memory (read from there).
        using var ready = await platform.Rest.GetAsync("/health/ready");
        ready.StatusCode.Should().Be(HttpStatusCode.OK);
        using var json = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        json.RootElement.GetProperty("checks").EnumerateObject().Select(c => c.Name).Should().BeEquivalentTo(["self", "postgres", "verdict-cache"]);

        using var live = await platform.Rest.GetAsync("/health/live");
        live.StatusCode.Should().Be(HttpStatusCode.OK);
        (await live.Content.ReadAsStringAsync()).Should().Be("Healthy");
    }

    [Fact]
    public async Task After_SIGTERM_a_new_consumer_in_the_same_group_starts_after_the_last_processed_message()
    {
        // A fresh Ingestion with its own topic, group and store schema, so what it processed is visible there only.
        await using var stop = await StopFixture.StartAsync(platform);
        var lead = TestEnvironment.Unique("lead");
        Confluent.Kafka.TopicPartitionOffset last = null!;
        for (var i = 0; i < 3; i++)
        {
            last = await platform.Kafka.ProduceAsync(stop.Topic, lead, Events.Engagement(lead, EngagementEventTypes.EmailOpened, Now.AddMinutes(i)));
        }

        await Eventually.Get<long?>(() => StoredEventsAsync(stop.Schema, lead), n => n == 3, Wait, $"3 events of {lead} in {stop.Schema}\n{stop.Ingestion.Output}");
        var exitCode = await stop.Ingestion.StopAsync(TimeSpan.FromSeconds(30));

        exitCode.Should().Be(0, stop.Ingestion.Output);
        platform.Kafka.Committed(stop.Group, last.TopicPartition).Value.Should().Be(last.Offset.Value + 1,
            $"the group resumes right after the last message it stored\n{stop.Ingestion.Output}");
    }

    [Fact]
    public async Task SIGTERM_during_an_append_lets_the_batch_finish_and_commits_its_offset()
    {
        await using var stop = await StopFixture.StartAsync(platform);
        await using var block = await stop.BlockEventInsertsAsync();
        var lead = TestEnvironment.Unique("lead");
        var sent = await platform.Kafka.ProduceAsync(stop.Topic, lead, Events.Engagement(lead, EngagementEventTypes.EmailOpened, Now));
        await stop.WaitUntilAppendBlockedAsync();

        // SIGTERM while the append waits on the lock; the lock goes only once the consumer says it is finishing that batch.
        var exited = stop.Ingestion.StopAsync(TimeSpan.FromSeconds(30));
        await Eventually.Get(() => Task.FromResult<string?>(stop.Ingestion.Output), o => o.Contains("Stopping: finishing the batch in flight"),
            Wait, $"the consumer to start draining\n{stop.Ingestion.Output}");
        await block.DisposeAsync();

        (await exited).Should().Be(0, stop.Ingestion.Output);
        (await StoredEventsAsync(stop.Schema, lead)).Should().Be(1, "the append in flight at SIGTERM finished");
        platform.Kafka.Committed(stop.Group, sent.TopicPartition).Value.Should().Be(sent.Offset.Value + 1,
            $"its offset was committed after it\n{stop.Ingestion.Output}");
        stop.Ingestion.Output.Should().Contain("Consumer stopped; offsets committed");
    }

    [Fact]
    public async Task SIGTERM_with_the_store_blocked_longer_than_the_drain_stops_without_committing_that_batch()
    {
        await using var stop = await StopFixture.StartAsync(platform, new() { ["Ingestion__ShutdownDrain"] = "00:00:01" });
        var lead = TestEnvironment.Unique("lead");
        var block = await stop.BlockEventInsertsAsync();
        try
        {
            await platform.Kafka.ProduceAsync(stop.Topic, lead, Events.Engagement(lead, EngagementEventTypes.EmailOpened, Now));
            await stop.WaitUntilAppendBlockedAsync();

            // The lock is held until the process has exited: a store that hangs must not hold shutdown past the drain.
            (await stop.Ingestion.StopAsync(TimeSpan.FromSeconds(30))).Should().Be(0, stop.Ingestion.Output);
        }
        finally
        {
            await block.DisposeAsync();
        }

        (await StoredEventsAsync(stop.Schema, lead)).Should().Be(0, "the cancelled append rolled back");
        platform.Kafka.Committed(stop.Group, stop.WarmUp.TopicPartition).Value.Should().Be(stop.WarmUp.Offset.Value + 1,
            $"the group's offset stays after the last stored message, so the next owner re-reads the cancelled batch\n{stop.Ingestion.Output}");
        stop.Ingestion.Output.Should().Contain("did not finish, its offsets are not committed");
    }

    [Fact]
    public async Task SIGTERM_while_the_store_is_failing_cancels_the_batch_at_once_without_committing_it()
    {
        await using var stop = await StopFixture.StartAsync(platform);
        var lead = TestEnvironment.Unique("lead");
        var block = await stop.BlockEventInsertsAsync();
        try
        {
            await platform.Kafka.ProduceAsync(stop.Topic, lead, Events.Engagement(lead, EngagementEventTypes.EmailOpened, Now));
            await stop.WaitUntilAppendBlockedAsync();
            // The waiting append's connection is terminated (SQLSTATE 57P01, transient): the append is retried, and
            // stays in its retries while the lock is held.
            await stop.TerminateBlockedAppendAsync();
            await Eventually.Get(() => Task.FromResult<string?>(stop.Ingestion.Output), o => o.Contains("Event store append failed (attempt"),
                Wait, $"the append to be retried\n{stop.Ingestion.Output}");

            (await stop.Ingestion.StopAsync(TimeSpan.FromSeconds(30))).Should().Be(0, stop.Ingestion.Output);
        }
        finally
        {
            await block.DisposeAsync();
        }

        stop.Ingestion.Output.Should().Contain("Stopping: finishing the batch in flight (1 messages) within 00:00:00",
            "a store that is failing gets no drain (the default is 10 s)");
        stop.Ingestion.Output.Should().Contain("did not finish, its offsets are not committed");
        (await StoredEventsAsync(stop.Schema, lead)).Should().Be(0);
        platform.Kafka.Committed(stop.Group, stop.WarmUp.TopicPartition).Value.Should().Be(stop.WarmUp.Offset.Value + 1,
            $"the cancelled batch is left to the next owner\n{stop.Ingestion.Output}");
    }

    /// <summary>
    /// An Ingestion of its own (topic, group, store schema), with one warm-up event stored, so a test knows exactly
    /// which messages its batches hold.
    /// </summary>
    private sealed class StopFixture : IAsyncDisposable
    {
        public required ServiceProcess Ingestion { get; init; }
        public required string Schema { get; init; }
        public required string Group { get; init; }
        public required string Topic { get; init; }
        public required Confluent.Kafka.TopicPartitionOffset WarmUp { get; init; }

        public static async Task<StopFixture> StartAsync(PlatformFixture platform, Dictionary<string, string>? settings = null)
        {
            var schema = TestEnvironment.UniqueSchema("e2e_drain");
            var topic = $"{Topics.EngagementEvents}-{schema}";
            var warmLead = TestEnvironment.Unique("warm");
            // Creates the topic before the consumer subscribes to it.
            var warmUp = await platform.Kafka.ProduceAsync(topic, warmLead, Events.Engagement(warmLead, EngagementEventTypes.EmailOpened, Now));
            var port = TestEnvironment.FreePort();
            var environment = new Dictionary<string, string>
            {
                ["ConnectionStrings__EventStore"] = TestEnvironment.PostgresConnectionString,
                ["EventStore__Schema"] = schema,
                ["Kafka__BootstrapServers"] = TestEnvironment.KafkaBootstrap,
                ["Kafka__EngagementTopic"] = topic,
                ["Kafka__ConsumerGroup"] = "e2e-drain-" + schema,
                ["Kestrel__Endpoints__Health__Url"] = $"http://127.0.0.1:{port}",
            };
            foreach (var (key, value) in settings ?? []) environment[key] = value;
            var ingestion = ServiceProcess.Start("Ingestion", environment);
            var fixture = new StopFixture { Ingestion = ingestion, Schema = schema, Group = environment["Kafka__ConsumerGroup"], Topic = topic, WarmUp = warmUp };
            try
            {
                await ingestion.WaitUntilHealthyAsync(port, Wait);
                await Eventually.Get<long?>(() => StoredEventsAsync(schema, warmLead), n => n == 1, Wait, $"the warm-up event in {schema}\n{ingestion.Output}");
                return fixture;
            }
            catch
            {
                await fixture.DisposeAsync();
                throw;
            }
        }

        /// <summary>Holds a SHARE lock on the schema's <c>mt_events</c> (reads go on, inserts wait) until disposed.</summary>
        public async Task<IAsyncDisposable> BlockEventInsertsAsync()
        {
            var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
            await connection.OpenAsync();
            var transaction = await connection.BeginTransactionAsync();
            await using (var command = new NpgsqlCommand($"lock table {Schema}.mt_events in share mode", connection, transaction))
            {
                await command.ExecuteNonQueryAsync();
            }

            return new TableLock(connection, transaction);
        }

        private sealed class TableLock(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
        {
            private int _released;

            public async ValueTask DisposeAsync()
            {
                if (Interlocked.Exchange(ref _released, 1) == 1) return;
                await transaction.RollbackAsync();
                await connection.DisposeAsync();
            }
        }

        /// <summary>Until a statement on this schema waits for a lock (the append behind <see cref="BlockEventInsertsAsync"/>).</summary>
        public Task WaitUntilAppendBlockedAsync() => Eventually.Get<long?>(async () =>
        {
            await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and position(@schema in query) > 0", connection);
            command.Parameters.AddWithValue("schema", Schema);
            return (long?)await command.ExecuteScalarAsync();
        }, n => n > 0, Wait, $"an append waiting on the lock in {Schema}\n{Ingestion.Output}");

        /// <summary>Terminates the backend of the append <see cref="WaitUntilAppendBlockedAsync"/> saw waiting.</summary>
        public async Task TerminateBlockedAppendAsync()
        {
            await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where wait_event_type = 'Lock' and position(@schema in query) > 0",
                connection);
            command.Parameters.AddWithValue("schema", Schema);
            ((long)(await command.ExecuteScalarAsync())!).Should().BeGreaterThan(0, "the append was waiting on the lock");
        }

        public async ValueTask DisposeAsync()
        {
            await Ingestion.DisposeAsync();
            await TestEnvironment.DropSchemaAsync(Schema);
        }
    }

    private static async Task<long?> StoredEventsAsync(string schema, string lead)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select count(*) from {schema}.mt_events where stream_id = @lead", connection);
        command.Parameters.AddWithValue("lead", lead);
        try
        {
            return (long?)await command.ExecuteScalarAsync();
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }
    }
}
