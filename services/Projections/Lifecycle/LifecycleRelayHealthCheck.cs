using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>
/// Degraded while a lifecycle message has waited longer than a minute for Kafka: the relay is retrying
/// (broker down, or this replica is not the publishing one and the leader is stuck).
/// </summary>
internal sealed class LifecycleRelayHealthCheck(LifecycleOutboxRelay relay, TimeProvider clock) : IHealthCheck
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(1);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var waited = relay.OldestUnpublished is { } at ? clock.GetUtcNow() - at : TimeSpan.Zero;
        return Task.FromResult(waited > MaxWait
            ? HealthCheckResult.Degraded($"the oldest unpublished lifecycle message has waited {waited.TotalSeconds:0} s for Kafka")
            : HealthCheckResult.Healthy());
    }
}
