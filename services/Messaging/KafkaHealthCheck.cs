using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ScoringPlatform.Messaging;

/// <summary>
/// Ready when the Kafka cluster returns metadata (at least one broker reachable). One instance per process (registered as
/// a singleton by <see cref="KafkaExtensions.AddKafka"/>): it owns a librdkafka admin client, i.e. native threads and
/// broker connections, so it must not be created per probe. Probes arriving together share one metadata request, and a
/// result is reused for <see cref="Reuse"/>, so frequent probes cost the cluster and the thread pool next to nothing.
/// </summary>
internal sealed class KafkaHealthCheck(IOptions<KafkaOptions> options) : IHealthCheck, IDisposable
{
    /// <summary>How long one metadata answer stands for the cluster's state.</summary>
    public static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private readonly IAdminClient _admin = new AdminClientBuilder(options.Value.AdminConfig("health-check")).Build();
    private readonly SemaphoreSlim _one = new(1, 1);
    private HealthCheckResult? _last;
    private long _lastAt;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await _one.WaitAsync(cancellationToken);
        try
        {
            if (_last is { } last && Stopwatch.GetElapsedTime(_lastAt) < Reuse) return last;
            // GetMetadata blocks for up to its timeout: keep it off the caller's thread.
            _last = await Task.Run(Query, cancellationToken);
            _lastAt = Stopwatch.GetTimestamp();
            return _last.Value;
        }
        finally
        {
            _one.Release();
        }
    }

    private HealthCheckResult Query()
    {
        try
        {
            var metadata = _admin.GetMetadata(TimeSpan.FromSeconds(3));
            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s)")
                : HealthCheckResult.Unhealthy("no brokers in metadata");
        }
        catch (KafkaException ex)
        {
            return HealthCheckResult.Unhealthy("Kafka did not answer", ex);
        }
    }

    public void Dispose()
    {
        _admin.Dispose();
        _one.Dispose();
    }
}
