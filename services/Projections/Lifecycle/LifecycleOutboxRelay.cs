using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>
/// Publishes the lifecycle outbox to Kafka in write order and marks rows published only after Kafka
/// acknowledged them, so a crash or an outage between the two re-sends (same message id) and never loses.
/// One relay publishes at a time across replicas: it holds a session advisory lock on its connection, which
/// PostgreSQL releases when the connection or the process dies. It wakes on the projection's NOTIFY and
/// also polls, so a lost notification only delays.
/// </summary>
public sealed partial class LifecycleOutboxRelay(
    IOptions<EventStoreOptions> storeOptions,
    LifecycleProducer producer,
    ILogger<LifecycleOutboxRelay> logger) : BackgroundService
{
    private const int PageSize = 500;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private static readonly Counter<long> Published =
        PlatformTelemetry.Meter.CreateCounter<long>("scoring.lifecycle.messages.published", "{message}");

    // Written by the relay loop, read by the gauge and the health check.
    private long _oldestUnpublishedTicks;

    private readonly ResiliencePipeline _publishRetry = Resilience.RetryUntilCancelled(
        ex => ex is KafkaException, (attempt, ex) => LogPublishRetry(logger, attempt, ex));

    private readonly ResiliencePipeline _storeRetry = Resilience.RetryUntilCancelled(
        ex => ex is NpgsqlException or TimeoutException or InvalidOperationException,
        (attempt, ex) => LogStoreRetry(logger, attempt, ex));

    private string Schema => storeOptions.Value.Schema;

    /// <summary>When the oldest row not yet acknowledged by Kafka was written (null: none seen pending).</summary>
    public DateTimeOffset? OldestUnpublished =>
        Interlocked.Read(ref _oldestUnpublishedTicks) is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.lifecycle.outbox.oldest_unpublished_age",
            () => OldestUnpublished is { } at ? (DateTimeOffset.UtcNow - at).TotalSeconds : 0, "s",
            "Age of the oldest lifecycle message written but not yet acknowledged by Kafka");
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        _storeRetry.ExecuteAsync(async ct => await RunAsync(ct), stoppingToken).AsTask();

    private async Task RunAsync(CancellationToken ct)
    {
        // Unpooled: the advisory lock lives as long as this physical connection, and no longer.
        var connectionString = new NpgsqlConnectionStringBuilder(storeOptions.Value.ConnectionString) { Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        var notified = false;
        connection.Notification += (_, _) => notified = true;

        while (!await TryLockAsync(connection, ct))
        {
            // Another replica publishes; take over when its connection goes away.
            await Task.Delay(PollInterval * 5, ct);
        }

        LogLeader(logger, Schema);
        await ExecuteAsync(connection, $"listen {Quote(LifecycleOutbox.Channel(Schema))}", ct);

        while (!ct.IsCancellationRequested)
        {
            notified = false;
            var page = await ReadUnpublishedAsync(connection, ct);
            Interlocked.Exchange(ref _oldestUnpublishedTicks, page.Count > 0 ? page[0].CreatedAt.UtcTicks : 0);
            if (page.Count > 0)
            {
                await PublishAsync(page, ct);
                await MarkPublishedAsync(connection, page, ct);
                if (page.Count == PageSize) continue;
            }

            // Rows committed while this page was published may have notified already.
            if (!notified) await connection.WaitAsync(PollInterval, ct);
        }
    }

    private async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("select pg_try_advisory_lock(hashtext(@key))", connection);
        command.Parameters.AddWithValue("key", $"{Schema}.{LifecycleOutbox.TableName}.relay");
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    private async Task<List<OutboxRow>> ReadUnpublishedAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            $"select position, message_id, lead_id, message_type, payload::text, trace_parent, created_at, model_id, model_version from {Schema}.{LifecycleOutbox.TableName} " +
            $"where published_at is null order by position limit {PageSize}", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<OutboxRow>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new OutboxRow(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetInt32(8)));
        }

        return rows;
    }

    private async Task PublishAsync(List<OutboxRow> page, CancellationToken ct)
    {
        // The idempotent producer keeps the order of messages to one partition, and a lead's rows share its
        // key, so a lead's transitions reach consumers in the order they happened.
        var deliveries = page.Select(row => _publishRetry.ExecuteAsync(async token => await PublishOneAsync(row, token), ct).AsTask());
        await Task.WhenAll(deliveries);
        Published.Add(page.Count);
    }

    private async Task PublishOneAsync(OutboxRow row, CancellationToken ct)
    {
        using var activity = PlatformTelemetry.Source.StartActivity(
            $"{producer.Topic} publish", ActivityKind.Producer, PlatformTelemetry.ParseTraceParent(row.TraceParent));
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("messaging.destination.name", producer.Topic);
        activity?.SetTag("messaging.message.id", row.MessageId.ToString());
        activity?.SetTag("lead.id", row.LeadId);
        var headers = new Headers();
        PlatformTelemetry.Inject(activity, headers);
        headers.Add(Contracts.Headers.Sequence, Encoding.UTF8.GetBytes(row.Position.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (row.ModelId is { } modelId) headers.Add(Contracts.Headers.ModelId, Encoding.UTF8.GetBytes(modelId));
        if (row.ModelVersion is { } version) headers.Add(Contracts.Headers.ModelVersion, Encoding.UTF8.GetBytes(version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await producer.PublishAsync(row.MessageId, row.MessageType, row.LeadId, Encoding.UTF8.GetBytes(row.Payload), headers, ct);
        LogPublished(logger, row.MessageType, row.LeadId, row.MessageId);
    }

    private async Task MarkPublishedAsync(NpgsqlConnection connection, List<OutboxRow> page, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            $"update {Schema}.{LifecycleOutbox.TableName} set published_at = now() where position = any(@positions)", connection);
        command.Parameters.AddWithValue("positions", page.Select(r => r.Position).ToArray());
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private sealed record OutboxRow(
        long Position, Guid MessageId, string LeadId, string MessageType, string Payload, string? TraceParent, DateTimeOffset CreatedAt,
        string? ModelId, int? ModelVersion);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lifecycle outbox relay of schema {Schema} is publishing")]
    private static partial void LogLeader(ILogger logger, string schema);

    [LoggerMessage(Level = LogLevel.Information, Message = "Published {Type} for lead {LeadId} (message {MessageId})")]
    private static partial void LogPublished(ILogger logger, string type, string leadId, Guid messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lifecycle publish failed (attempt {Attempt}); retrying before the row is marked published")]
    private static partial void LogPublishRetry(ILogger logger, int attempt, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lifecycle outbox unreachable (attempt {Attempt}); reconnecting")]
    private static partial void LogStoreRetry(ILogger logger, int attempt, Exception? exception);
}
