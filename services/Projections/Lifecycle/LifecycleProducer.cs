using Confluent.Kafka;
using Microsoft.Extensions.Options;
using ScoringPlatform.Contracts;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>The process's one producer for <see cref="Topics.LeadLifecycle"/> (idempotent, acks=all).</summary>
public sealed class LifecycleProducer : IDisposable
{
    private readonly IProducer<string, byte[]> _producer;

    public LifecycleProducer(IOptions<KafkaOptions> options)
    {
        Topic = options.Value.LifecycleTopic;
        _producer = new ProducerBuilder<string, byte[]>(options.Value.ProducerConfig("projections-lifecycle")).Build();
    }

    public string Topic { get; }

    /// <summary>Sends one lifecycle message (already serialised JSON) keyed by lead id; completes when Kafka acknowledged it.</summary>
    public Task<DeliveryResult<string, byte[]>> PublishAsync(
        Guid messageId, string messageType, string leadId, byte[] json, Confluent.Kafka.Headers headers, CancellationToken ct)
    {
        headers.Add(Contracts.Headers.MessageId, System.Text.Encoding.UTF8.GetBytes(messageId.ToString()));
        headers.Add(Contracts.Headers.MessageType, System.Text.Encoding.UTF8.GetBytes(messageType));
        headers.Add(Contracts.Headers.ContentType, "application/json"u8.ToArray());
        return _producer.ProduceAsync(Topic, new Message<string, byte[]> { Key = leadId, Value = json, Headers = headers }, ct);
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}
