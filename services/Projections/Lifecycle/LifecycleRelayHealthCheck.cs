using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>
/// Degraded while a lifecycle message has waited longer than a minute for Kafka: the relay is retrying
/// (broker down, or this replica is not the publishing one and the leader is stuck).
/// </summary>
internal sealed class LifecycleRelayHealthCheck(LifecycleOutboxRelay relay) : IHealthCheck
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(1);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Real time, not the platform clock: the row's created_at is the database's clock, and a test clock (Clock:File)
        // must not make a healthy relay look stuck.
        var waited = relay.OldestUnpublished is { } at ? TimeProvider.System.GetUtcNow() - at : TimeSpan.Zero;
        return Task.FromResult(waited > MaxWait
            ? HealthCheckResult.Degraded($"the oldest unpublished lifecycle message has waited {waited.TotalSeconds:0} s for Kafka")
            : HealthCheckResult.Healthy());
    }
}
