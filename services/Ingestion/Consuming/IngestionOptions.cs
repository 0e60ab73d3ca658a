using System.ComponentModel.DataAnnotations;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>Consumer batching (section <c>Ingestion</c>).</summary>
public sealed class IngestionOptions
{
    public const string Section = "Ingestion";

    /// <summary>Most messages appended in one event-store transaction.</summary>
    [Range(1, 50_000)]
    public int MaxBatchSize { get; set; } = 2_000;

    /// <summary>Event-store transactions a batch is split into and appended in parallel (by lead).</summary>
    [Range(1, 16)]
    public int AppendConcurrency { get; set; } = 2;
}
