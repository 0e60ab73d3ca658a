using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Options;
using ScoringPlatform.Contracts;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>
/// Sends rejected messages to the dead-letter topic: the original key and bytes untouched, the reason and
/// the origin (topic, partition, offset) in headers. One long-lived idempotent producer per process.
/// </summary>
public sealed class DeadLetterPublisher : IDisposable
{
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly string _topic;

    public DeadLetterPublisher(IOptions<KafkaOptions> options)
    {
        _topic = options.Value.DeadLetterTopic;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(options.Value.ProducerConfig("ingestion-dlq")).Build();
    }

    public Task<DeliveryResult<byte[]?, byte[]?>> PublishAsync(ConsumeResult<byte[]?, byte[]?> source, RejectionReason reason, CancellationToken ct)
    {
        var headers = new Confluent.Kafka.Headers();
        if (source.Message.Headers is { } original)
        {
            foreach (var h in original) headers.Add(h.Key, h.GetValueBytes());
        }

        headers.Add(Contracts.Headers.DeadLetterReason, Encoding.UTF8.GetBytes(reason.Message));
        headers.Add(Contracts.Headers.DeadLetterErrorCode, Encoding.UTF8.GetBytes(reason.Code));
        headers.Add(Contracts.Headers.DeadLetterTopic, Encoding.UTF8.GetBytes(source.Topic));
        headers.Add(Contracts.Headers.DeadLetterPartition, Encoding.UTF8.GetBytes(source.Partition.Value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(Contracts.Headers.DeadLetterOffset, Encoding.UTF8.GetBytes(source.Offset.Value.ToString(CultureInfo.InvariantCulture)));

        return _producer.ProduceAsync(_topic, new Message<byte[]?, byte[]?>
        {
            Key = source.Message.Key,
            Value = source.Message.Value,
            Headers = headers,
        }, ct);
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}
