using System.ComponentModel.DataAnnotations;
using ScoringPlatform.Contracts;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>Consumer batching, the accepted time window, store retries and health (section <c>Ingestion</c>).</summary>
public sealed class IngestionOptions
{
    public const string Section = "Ingestion";

    /// <summary>Most messages appended in one event-store transaction.</summary>
    [Range(1, 50_000)]
    public int MaxBatchSize { get; set; } = 2_000;

    /// <summary>Event-store transactions a batch is split into and appended in parallel (by lead).</summary>
    [Range(1, 16)]
    public int AppendConcurrency { get; set; } = 2;

    /// <summary>
    /// Append each transaction's events with one set-based statement (<see cref="SetBasedAppend"/>) instead of Marten's
    /// per-stream quick append; both write the same rows. Off: Marten's own append, the way back if ever needed.
    /// </summary>
    public bool SetBasedAppend { get; set; } = true;

    /// <summary>
    /// With <see cref="SetBasedAppend"/>: one statement skips the stored ids, bumps the stream rows and numbers the events
    /// (<see cref="SetBasedAppend.ReserveSql"/>), then the events are written by binary COPY. Off: the single set-based
    /// statement. Both write the same rows.
    /// </summary>
    public bool CopyEvents { get; set; } = true;

    /// <summary>How far ahead of this consumer's clock an <c>occurredAt</c> may be (producers' clock skew).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan OccurredAtFutureSkew { get; set; } = EngagementEventRules.DefaultFutureSkew;

    /// <summary>The oldest <c>occurredAt</c> accepted; earlier ones are clock or unit errors.</summary>
    public DateTimeOffset OldestOccurredAt { get; set; } = EngagementEventRules.DefaultOldestOccurredAt;

    /// <summary>Retries of a store failure that is neither known transient nor a known data rejection, before the batch is bisected.</summary>
    [Range(0, 100)]
    public int UnknownFailureRetries { get; set; } = 5;

    /// <summary>First delay before a store append is retried; it doubles (with jitter) up to 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan StoreRetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long the store circuit stays open after repeated transient failures before a trial append.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Readiness turns Degraded when consumed messages wait longer than this without being committed.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan StallAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// On shutdown, how long the batch being appended may still take to finish (then its offsets are committed). Past
    /// this, or at once when the store is failing, it is cancelled: its messages are re-read by the partitions' next owner
    /// and deduplicated. Keep it below the host's 20-s shutdown timeout.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:15")]
    public TimeSpan ShutdownDrain { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>librdkafka statistics interval: the source of the consumer-lag gauge.</summary>
    [Range(100, 600_000)]
    public int StatisticsIntervalMs { get; set; } = 5_000;

    public OccurredAtWindow WindowAt(DateTimeOffset now) => OccurredAtWindow.At(now, OccurredAtFutureSkew, OldestOccurredAt);
}
