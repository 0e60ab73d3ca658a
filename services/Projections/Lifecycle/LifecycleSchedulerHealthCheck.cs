using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>
/// Degraded while a lifecycle transition has been due longer than <see cref="LifecycleSchedulerOptions.MaxDueLag"/>:
/// the scheduler is not keeping up, cannot append, or (in every replica) is not running.
/// </summary>
public sealed class LifecycleSchedulerHealthCheck(LifecycleScheduler scheduler, IOptions<LifecycleSchedulerOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var lag = scheduler.DueLag;
        return Task.FromResult(lag > options.Value.MaxDueLag
            ? HealthCheckResult.Degraded($"the oldest due lifecycle transition has waited {lag.TotalSeconds:0} s for the scheduler")
            : HealthCheckResult.Healthy());
    }
}
