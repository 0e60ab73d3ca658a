using JasperFx;
using JasperFx.Events.Daemon;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ScoringPlatform.Projections.Scoring;

/// <summary>Degraded while a projection shard is paused: it failed a page and is not moving (the log says why).</summary>
internal sealed class ProjectionDaemonHealthCheck(IProjectionCoordinator coordinator) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var paused = coordinator.DaemonForMainDatabase().CurrentAgents()
            .Where(a => a.Status == AgentStatus.Paused)
            .Select(a => a.Name.Identity)
            .ToList();
        return Task.FromResult(paused.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded($"paused projection shard(s): {string.Join(", ", paused)}"));
    }
}
