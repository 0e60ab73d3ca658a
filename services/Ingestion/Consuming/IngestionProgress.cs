using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>
/// What the consumer loop is doing, for readiness and the gauges: the batch consumed but not yet committed, the
/// last commit, and the lag librdkafka reports per partition.
/// </summary>
public sealed class IngestionProgress
{
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<(string Topic, int Partition), long> _lag = new();
    private long _pendingSinceTicks;
    private int _pendingCount;
    private long _lastProgressTicks;

    public IngestionProgress(TimeProvider clock)
    {
        _clock = clock;
        _lastProgressTicks = clock.GetUtcNow().UtcTicks;
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.ingestion.consumer.lag", ObserveLag, "{message}",
            "Messages behind the partition's high watermark (librdkafka consumer_lag)");
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.ingestion.oldest_pending.age", () => OldestPendingAge?.TotalSeconds ?? 0,
            "s", "Age of the oldest message consumed and not yet committed");
    }

    /// <summary>Messages consumed and not yet committed (0 between batches).</summary>
    public int PendingCount => Volatile.Read(ref _pendingCount);

    public TimeSpan? OldestPendingAge =>
        Interlocked.Read(ref _pendingSinceTicks) is var ticks and > 0 ? _clock.GetUtcNow() - new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    public TimeSpan SinceLastProgress => _clock.GetUtcNow() - new DateTimeOffset(Interlocked.Read(ref _lastProgressTicks), TimeSpan.Zero);

    /// <summary>Sum of the known partition lags; 0 when librdkafka has reported none yet.</summary>
    public long TotalLag => _lag.Values.Where(v => v > 0).Sum();

    /// <summary>A batch is consumed; with a batch still being appended (pipelined) the older one's age is kept.</summary>
    public void BatchConsumed(int count)
    {
        Interlocked.CompareExchange(ref _pendingSinceTicks, _clock.GetUtcNow().UtcTicks, 0);
        Interlocked.Add(ref _pendingCount, count);
    }

    /// <summary>The batch is committed (or abandoned to be re-read): nothing is pending.</summary>
    public void BatchDone()
    {
        Interlocked.Exchange(ref _pendingSinceTicks, 0);
        Volatile.Write(ref _pendingCount, 0);
        Interlocked.Exchange(ref _lastProgressTicks, _clock.GetUtcNow().UtcTicks);
    }

    /// <summary>A consume call returned with nothing to do: an idle consumer is not a stalled one.</summary>
    public void Idle() => Interlocked.Exchange(ref _lastProgressTicks, _clock.GetUtcNow().UtcTicks);

    /// <summary>Reads <c>topics.*.partitions.*.consumer_lag</c> from a librdkafka statistics document.</summary>
    public void OnStatistics(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (!doc.RootElement.TryGetProperty("topics", out var topics)) return;
        _lag.Clear();
        foreach (var topic in topics.EnumerateObject())
        {
            if (!topic.Value.TryGetProperty("partitions", out var partitions)) continue;
            foreach (var partition in partitions.EnumerateObject())
            {
                // Partition -1 is librdkafka's internal unassigned bucket; lag -1 means unknown.
                if (!int.TryParse(partition.Name, out var id) || id < 0) continue;
                if (!partition.Value.TryGetProperty("consumer_lag", out var lag) || lag.GetInt64() < 0) continue;
                _lag[(topic.Name, id)] = lag.GetInt64();
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveLag() =>
        _lag.Select(kv => new Measurement<long>(kv.Value,
            new KeyValuePair<string, object?>("messaging.destination.name", kv.Key.Topic),
            new KeyValuePair<string, object?>("messaging.destination.partition.id", kv.Key.Partition)));
}
