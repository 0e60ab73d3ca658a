using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Options;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.Tracking.Endpoints;
using ScoringPlatform.Tracking.Mapping;

namespace ScoringPlatform.Tracking.Producing;

/// <summary>
/// The process's one producer to the engagement topic: idempotent, acks=all, each message's wait bounded by
/// <see cref="TrackingOptions.DeliveryTimeout"/> (librdkafka <c>message.timeout.ms</c>). A request is answered only
/// from the delivery reports of all its messages, so "accepted" always means "on the broker". On shutdown, after the
/// server has drained its requests, whatever is still queued is flushed.
/// </summary>
public sealed partial class EngagementProducer : IHostedService, IDisposable
{
    private readonly object _gate = new();
    private readonly ProducerConfig _config;
    private readonly string _topic;
    private readonly TimeSpan _deliveryTimeout;
    private readonly ILogger<EngagementProducer> _logger;
    private IProducer<string, byte[]> _producer;
    private volatile bool _fatal;

    public EngagementProducer(IOptions<KafkaOptions> kafka, IOptions<TrackingOptions> tracking, ILogger<EngagementProducer> logger)
    {
        _logger = logger;
        _topic = kafka.Value.EngagementTopic;
        _deliveryTimeout = tracking.Value.DeliveryTimeout;
        _config = kafka.Value.ProducerConfig("tracking");
        _config.MessageTimeoutMs = (int)_deliveryTimeout.TotalMilliseconds;
        _config.LingerMs = Math.Min(_config.LingerMs ?? 5, _config.MessageTimeoutMs.Value / 2);
        _producer = Build();
    }

    public string Topic => _topic;

    /// <summary>
    /// Produces every message and returns once the broker acknowledged all of them; throws the first failure after
    /// every delivery report is in (a partly delivered request is retried whole by the client; Ingestion dedupes by id).
    /// </summary>
    public async Task ProduceAllAsync(IReadOnlyList<MapOutcome.Mapped> events)
    {
        if (events.Count == 0) return;
        using var activity = PlatformTelemetry.Source.StartActivity($"{_topic} publish", ActivityKind.Producer);
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("messaging.destination.name", _topic);
        activity?.SetTag("messaging.batch.message_count", events.Count);

        var producer = Current();
        var deliveries = new Task<DeliveryResult<string, byte[]>>[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var headers = new Headers();
            // The request's trace continues into Kafka: Ingestion's consumer span is a child of this publish span.
            PlatformTelemetry.Inject(activity ?? Activity.Current, headers);
            deliveries[i] = producer.ProduceAsync(_topic, new Message<string, byte[]> { Key = events[i].Key, Value = events[i].Payload, Headers = headers });
        }

        try
        {
            await Task.WhenAll(deliveries);
        }
        catch (KafkaException ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            var failed = deliveries.Count(d => !d.IsCompletedSuccessfully);
            LogDeliveryFailed(_logger, failed, events.Count, ex.Error.Code, ex);
            throw;
        }
        finally
        {
            for (var i = 0; i < events.Count; i++)
            {
                if (deliveries[i].IsCompletedSuccessfully) TrackingMetrics.EventProduced(events[i].Event.Type);
            }
        }
    }

    private IProducer<string, byte[]> Current()
    {
        if (!_fatal) return _producer;
        lock (_gate)
        {
            if (!_fatal) return _producer;
            // A fatal idempotence error leaves the producer unusable; a new one starts a new producer id.
            var old = _producer;
            _producer = Build();
            _fatal = false;
            old.Dispose();
            return _producer;
        }
    }

    private IProducer<string, byte[]> Build() =>
        new ProducerBuilder<string, byte[]>(_config)
            .SetErrorHandler((_, e) =>
            {
                if (e.IsFatal) _fatal = true;
                LogKafkaError(_logger, e.Code, e.Reason, e.IsFatal);
            })
            .Build();

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        var left = _producer.Flush(_deliveryTimeout);
        LogFlushed(_logger, left);
        return Task.CompletedTask;
    }

    public void Dispose() => _producer.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka did not acknowledge {Failed} of {Count} tracking events ({Code}); the request answers 503")]
    private static partial void LogDeliveryFailed(ILogger logger, int failed, int count, ErrorCode code, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka producer error {Code}: {Reason} (fatal: {Fatal})")]
    private static partial void LogKafkaError(ILogger logger, ErrorCode code, string reason, bool fatal);

    [LoggerMessage(Level = LogLevel.Information, Message = "Producer flushed on shutdown; {Left} message(s) still unacknowledged")]
    private static partial void LogFlushed(ILogger logger, int left);
}
