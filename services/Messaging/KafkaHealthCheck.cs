using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ScoringPlatform.Messaging;

/// <summary>Ready when the Kafka cluster returns metadata (at least one broker reachable).</summary>
internal sealed class KafkaHealthCheck : IHealthCheck, IDisposable
{
    private readonly IAdminClient _admin;

    public KafkaHealthCheck(IOptions<KafkaOptions> options)
    {
        _admin = new AdminClientBuilder(options.Value.AdminConfig("health-check")).Build();
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var metadata = _admin.GetMetadata(TimeSpan.FromSeconds(3));
            return Task.FromResult(metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s)")
                : HealthCheckResult.Unhealthy("no brokers in metadata"));
        }
        catch (KafkaException ex)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("Kafka did not answer", ex));
        }
    }

    public void Dispose() => _admin.Dispose();
}
