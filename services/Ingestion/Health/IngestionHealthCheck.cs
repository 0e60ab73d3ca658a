using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using ScoringPlatform.Ingestion.Consuming;

namespace ScoringPlatform.Ingestion.Health;

/// <summary>
/// Degraded (readiness 503) while events are not getting into the store: the store circuit is open, appends are
/// being retried, or consumed messages wait beyond <see cref="IngestionOptions.StallAfter"/> with no commit.
/// </summary>
internal sealed class IngestionHealthCheck(StoreResilience store, IngestionProgress progress, IOptions<IngestionOptions> options, TimeProvider clock)
    : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var stallAfter = options.Value.StallAfter;
        var data = new Dictionary<string, object>
        {
            ["pending"] = progress.PendingCount,
            ["lag"] = progress.TotalLag,
            ["circuit"] = store.CircuitState.ToString(),
        };

        string? problem = null;
        if (store.CircuitState is CircuitState.Open or CircuitState.Isolated)
            problem = "the event-store circuit is open after repeated failures";
        else if (store.RetryingSince is { } since)
            problem = $"event-store appends have been failing and retrying for {(clock.GetUtcNow() - since).TotalSeconds:0} s";
        else if (progress.OldestPendingAge is { } age && age > stallAfter)
            problem = $"{progress.PendingCount} consumed message(s) not committed for {age.TotalSeconds:0} s";
        else if (progress.TotalLag > 0 && progress.SinceLastProgress > stallAfter)
            problem = $"{progress.TotalLag} message(s) waiting and no progress for {progress.SinceLastProgress.TotalSeconds:0} s";

        return Task.FromResult(problem is null ? HealthCheckResult.Healthy("consuming", data) : HealthCheckResult.Degraded(problem, data: data));
    }
}
