using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Confluent.Kafka;
using Microsoft.Extensions.Options;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>
/// Consumes engagement events and appends them to the lead streams in batches. Offsets are committed only
/// after the batch's append (and its dead-letter deliveries) succeeded, so a crash replays the batch and
/// the idempotent append counts each event once. A message that can never be stored goes to the dead-letter
/// topic on its own with its reason code (refused by the contract, or refused by PostgreSQL); the rest of its
/// batch is stored and the loop goes on.
/// </summary>
internal sealed partial class EngagementConsumer(
    IOptions<KafkaOptions> kafkaOptions,
    IOptions<IngestionOptions> ingestionOptions,
    EngagementAppender appender,
    DeadLetterPublisher deadLetters,
    StoreResilience resilience,
    IngestionProgress progress,
    TimeProvider clock,
    ILogger<EngagementConsumer> logger) : BackgroundService
{
    private static readonly Counter<long> Consumed = PlatformTelemetry.Meter.CreateCounter<long>("scoring.ingestion.messages.consumed", "{message}");
    private static readonly Counter<long> Appended = PlatformTelemetry.Meter.CreateCounter<long>("scoring.ingestion.events.appended", "{event}");
    private static readonly Counter<long> Duplicates = PlatformTelemetry.Meter.CreateCounter<long>("scoring.ingestion.events.duplicate", "{event}");
    private static readonly Counter<long> DeadLettered = PlatformTelemetry.Meter.CreateCounter<long>("scoring.ingestion.messages.dead_lettered", "{message}");
    private static readonly Histogram<double> AppendDuration = PlatformTelemetry.Meter.CreateHistogram<double>("scoring.ingestion.append.duration", "ms");

    // How long one poll waits before the loop reports itself idle (an idle consumer is not a stalled one).
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(1);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // librdkafka's Consume blocks: keep it off the shared thread pool.
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken ct)
    {
        var kafka = kafkaOptions.Value;
        var config = kafka.ConsumerConfig("ingestion");
        config.StatisticsIntervalMs ??= ingestionOptions.Value.StatisticsIntervalMs;
        // librdkafka prefetches up to 64 MB of messages by default, in native memory (a 48-64 MB malloc arena of Ingestion's
        // RSS in the bench). 16 MB still holds about 60,000 of the bench's 250-byte messages, three seconds of its ingest.
        // Kafka__Client__queued.max.messages.kbytes overrides it.
        config.QueuedMaxMessagesKbytes ??= 16 * 1024;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetErrorHandler((_, e) => LogKafkaError(logger, e.Code, e.Reason, e.IsFatal))
            .SetStatisticsHandler((_, json) => progress.OnStatistics(json))
            .SetPartitionsAssignedHandler((_, parts) => LogAssigned(logger, string.Join(",", parts.Select(p => $"{p.Topic}[{p.Partition.Value}]"))))
            .Build();
        consumer.Subscribe(kafka.EngagementTopic);
        LogStarted(logger, kafka.EngagementTopic, kafka.ConsumerGroup);

        // Pipelined: while one batch is appended, the next is consumed and parsed. Appends still run one batch at a time
        // (a lead's events keep their order across batches) and each batch's offsets are committed only after its
        // append and dead-letter deliveries succeeded, in consumption order.
        Task? inFlight = null;
        List<ConsumeResult<byte[]?, byte[]?>>? inFlightBatch = null;
        // Shutdown stops the consuming at once, but lets the batch in flight finish (and be committed) within
        // ShutdownDrain; a store that is failing, or slower than that, must not hold shutdown: the batch is then
        // cancelled, not committed, and the partitions' next owner re-reads and deduplicates it.
        using var drain = new CancellationTokenSource();
        using var stopping = ct.Register(() =>
        {
            var within = resilience.IsFailing ? TimeSpan.Zero : ingestionOptions.Value.ShutdownDrain;
            if (Volatile.Read(ref inFlightBatch) is { } batch) LogDraining(logger, batch.Count, within);
            drain.CancelAfter(within);
        });
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // With an append in flight, do not block on an empty topic: finish that batch and commit it first.
                var first = consumer.Consume(inFlight is null ? PollTimeout : TimeSpan.Zero);
                if (first is null)
                {
                    if (inFlight is not null)
                    {
                        await inFlight;
                        inFlight = null;
                        CommitOffsets(consumer, inFlightBatch!);
                        Volatile.Write(ref inFlightBatch, null);
                        progress.BatchDone();
                    }
                    else
                    {
                        progress.Idle();
                    }

                    continue;
                }

                var batch = new List<ConsumeResult<byte[]?, byte[]?>>(ingestionOptions.Value.MaxBatchSize) { first };
                // Take what is already fetched, without waiting: the batch size adapts to the load.
                while (batch.Count < ingestionOptions.Value.MaxBatchSize && consumer.Consume(TimeSpan.Zero) is { } next)
                {
                    batch.Add(next);
                }

                progress.BatchConsumed(batch.Count);
                var prepared = Prepare(batch);
                if (inFlight is not null)
                {
                    try
                    {
                        await inFlight;
                    }
                    catch
                    {
                        prepared.Dispose();
                        throw;
                    }

                    CommitOffsets(consumer, inFlightBatch!);
                    progress.BatchDone();
                    progress.BatchConsumed(batch.Count);
                }

                // A batch consumed as shutdown began is still appended, within the same drain: its contract rejects are
                // already on their way to the dead-letter topic.
                Volatile.Write(ref inFlightBatch, batch);
                inFlight = AppendAsync(prepared, drain.Token);
            }

            if (inFlight is not null)
            {
                await inFlight;
                inFlight = null;
                CommitOffsets(consumer, inFlightBatch!);
                Volatile.Write(ref inFlightBatch, null);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            // Still set here: the batch was cancelled or failed (its failure, if any, is what is propagating), and its
            // offsets are not committed; wait for it to let go of the store before closing the consumer.
            var unfinished = inFlight is null ? null : inFlightBatch;
            if (inFlight is not null) await inFlight.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

            progress.BatchDone();
            consumer.Close();
            if (unfinished is null) LogStopped(logger);
            else LogStoppedUncommitted(logger, unfinished.Count);
        }
    }

    private void CommitOffsets(IConsumer<byte[]?, byte[]?> consumer, List<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        try
        {
            foreach (var message in batch)
            {
                consumer.StoreOffset(message);
            }

            consumer.Commit();
        }
        catch (KafkaException ex) when (!ex.Error.IsFatal)
        {
            // A rebalance took partitions away mid-batch: their new owner re-reads those messages, and the
            // idempotent append counts them once.
            LogCommitSkipped(logger, ex.Error.Reason);
        }
    }

    /// <summary>Parses, appends and dead-letters one batch (without committing its offsets).</summary>
    internal Task ProcessBatchAsync(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken ct) =>
        AppendAsync(Prepare(batch), ct);

    /// <summary>The messages of a batch parsed and validated, with their spans; the contract's rejects already on their way to the DLQ.</summary>
    private sealed class PreparedBatch : IDisposable
    {
        public List<Activity> Activities { get; } = [];
        public List<PendingEvent> Pending { get; } = [];

        /// <summary>The message each of <see cref="Pending"/> came from, at the same index (a redelivery's id appears twice).</summary>
        public List<ConsumeResult<byte[]?, byte[]?>> PendingMessages { get; } = [];

        public List<Task> DeadLetterDeliveries { get; } = [];

        public void Dispose()
        {
            foreach (var activity in Activities) activity.Dispose();
        }
    }

    private PreparedBatch Prepare(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch)
    {
        Consumed.Add(batch.Count);
        var prepared = new PreparedBatch();
        var window = ingestionOptions.Value.WindowAt(clock.GetUtcNow());
        var ambient = Activity.Current;
        try
        {
            foreach (var message in batch)
            {
                var parent = PlatformTelemetry.Extract(message.Message.Headers);
                // Without a producer trace context StartActivity would take the previous message's (still open) span as
                // the parent: each message would nest in the one before, and reading a span's context walks that chain,
                // O(batch²) per batch (about 40 % of the consumer's managed CPU in a profile of 2,000-message batches).
                // Each message is its own trace root instead.
                Activity.Current = null;
                var activity = PlatformTelemetry.Source.StartActivity(SpanName(message.Topic), ActivityKind.Consumer, parent.ActivityContext);
                if (activity is not null)
                {
                    activity.SetTag("messaging.system", "kafka");
                    activity.SetTag("messaging.destination.name", message.Topic);
                    activity.SetTag("messaging.kafka.destination.partition", message.Partition.Value);
                    activity.SetTag("messaging.kafka.message.offset", message.Offset.Value);
                    prepared.Activities.Add(activity);
                }

                if (!EngagementEventParser.TryParse(message.Message.Value, window, out var evt, out var reason))
                {
                    activity?.SetStatus(ActivityStatusCode.Error, reason!.ToString());
                    DeadLetter(message, reason!, prepared.DeadLetterDeliveries);
                    activity?.Stop();
                    continue;
                }

                activity?.SetTag("lead.id", evt!.StreamKey);
                activity?.SetTag("event.id", evt!.Id);
                prepared.Pending.Add(new PendingEvent(evt!.StreamKey, EventIds.FromSourceId(evt!.Id), EngagementMapper.ToDomainEvent(evt),
                    PlatformTelemetry.TraceParentOf(activity)) { Link = EngagementMapper.LinkOf(evt) });
                prepared.PendingMessages.Add(message);
            }

            return prepared;
        }
        catch
        {
            prepared.Dispose();
            throw;
        }
        finally
        {
            // The message spans stay open until the append is done, but are nobody's ambient parent meanwhile.
            Activity.Current = ambient;
        }
    }

    // "<topic> process", built once per topic rather than per message; safe from any thread.
    private readonly ConcurrentDictionary<string, string> _spanNames = new(StringComparer.Ordinal);

    private string SpanName(string topic) => _spanNames.GetOrAdd(topic, static t => $"{t} process");

    private async Task AppendAsync(PreparedBatch prepared, CancellationToken ct)
    {
        using var _ = prepared;
        var pending = prepared.Pending;
        var activities = prepared.Activities;
        var deadLetterDeliveries = prepared.DeadLetterDeliveries;
        if (pending.Count > 0)
        {
            var started = Stopwatch.GetTimestamp();
            var startedAt = DateTimeOffset.UtcNow;
            AppendResult result;
            // One span for the batch's transaction (Marten and Npgsql spans nest under it), linked to every
            // message; each message's own trace gets an append child span of the same interval.
            Activity.Current = null;
            using (var batchActivity = PlatformTelemetry.Source.StartActivity(
                       "lead-events append", ActivityKind.Internal, default(ActivityContext),
                       tags: [new("messaging.batch.message_count", pending.Count)],
                       links: activities.Select(a => new ActivityLink(a.Context))))
            {
                result = await appender.AppendAsync(pending, ct);
            }

            // Valid by the contract yet refused by PostgreSQL, or a link that contradicts earlier ones: each offending
            // message is dead-lettered alone.
            if (result.Rejected.Count > 0)
            {
                // One pass over the batch: every message carrying a refused id (a redelivery's too) goes with its reason.
                var rejections = result.Rejected.DistinctBy(r => r.Event.EventId).ToDictionary(r => r.Event.EventId);
                for (var i = 0; i < pending.Count; i++)
                {
                    if (!rejections.TryGetValue(pending[i].EventId, out var rejection)) continue;
                    DeadLetter(prepared.PendingMessages[i], new RejectionReason(rejection.Code, rejection.Reason), deadLetterDeliveries);
                }
            }

            foreach (var activity in activities)
            {
                if (activity.Status == ActivityStatusCode.Error) continue;
                using var child = PlatformTelemetry.Source.StartActivity(
                    "lead-events append", ActivityKind.Internal, activity.Context, startTime: startedAt);
                child?.SetEndTime(DateTime.UtcNow);
            }

            AppendDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            Appended.Add(result.Appended);
            Duplicates.Add(result.Duplicates);
            if (result.Duplicates > 0) LogDuplicates(logger, result.Duplicates);
        }

        // A dead-letter delivery that fails throws here, before offsets are committed: the batch is replayed.
        await Task.WhenAll(deadLetterDeliveries);
    }

    private void DeadLetter(ConsumeResult<byte[]?, byte[]?> message, RejectionReason reason, List<Task> deliveries)
    {
        LogRejected(logger, message.Topic, message.Partition.Value, message.Offset.Value, reason.Code, reason.Message);
        // Not cancelled by shutdown: the offsets wait for these acknowledgements.
        deliveries.Add(deadLetters.PublishAsync(message, reason, CancellationToken.None));
        DeadLettered.Add(1, new KeyValuePair<string, object?>("reason", reason.Code));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Consuming {Topic} as group {Group}")]
    private static partial void LogStarted(ILogger logger, string topic, string group);

    [LoggerMessage(Level = LogLevel.Information, Message = "Partitions assigned: {Partitions}")]
    private static partial void LogAssigned(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Offsets of a batch not committed ({Reason}); its messages will be re-read and deduplicated")]
    private static partial void LogCommitSkipped(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer stopped; offsets committed")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: finishing the batch in flight ({Count} messages) within {Drain}")]
    private static partial void LogDraining(ILogger logger, int count, TimeSpan drain);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer stopped; the last batch ({Count} messages) did not finish, its offsets are not committed: the partitions' next owner re-reads it and deduplicates")]
    private static partial void LogStoppedUncommitted(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected {Topic}[{Partition}]@{Offset} to the dead-letter topic: {Code}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string topic, int partition, long offset, string code, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Count} duplicate event(s) ignored")]
    private static partial void LogDuplicates(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka error {Code}: {Reason} (fatal: {Fatal})")]
    private static partial void LogKafkaError(ILogger logger, ErrorCode code, string reason, bool fatal);
}
