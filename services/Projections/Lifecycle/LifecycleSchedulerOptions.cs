using System.ComponentModel.DataAnnotations;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>The lifecycle scheduler's settings (section <c>Lifecycle:Scheduler</c>).</summary>
public sealed class LifecycleSchedulerOptions
{
    public const string Section = "Lifecycle:Scheduler";

    /// <summary>Work the schedule in this replica (every replica may: rows are claimed with <c>for update skip locked</c>).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Most due rows claimed (and ticks appended in one event-store transaction) per round.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 500;

    /// <summary>Real-time fallback wake-up when no NOTIFY arrives (a lost notification, rows locked by another replica).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Readiness is Degraded while the oldest due row has been due longer than this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxDueLag { get; set; } = TimeSpan.FromSeconds(60);
}
