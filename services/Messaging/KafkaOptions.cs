using System.ComponentModel.DataAnnotations;
using ScoringPlatform.Contracts;

namespace ScoringPlatform.Messaging;

/// <summary>Kafka settings (section <c>Kafka</c>, e.g. <c>Kafka__BootstrapServers</c>).</summary>
public sealed class KafkaOptions
{
    public const string Section = "Kafka";

    [Required(ErrorMessage = "Kafka:BootstrapServers is required (env Kafka__BootstrapServers), e.g. 'broker1:9092,broker2:9092'.")]
    public string BootstrapServers { get; set; } = "";

    [Required]
    public string EngagementTopic { get; set; } = Topics.EngagementEvents;

    [Required]
    public string DeadLetterTopic { get; set; } = Topics.EngagementEventsDeadLetter;

    [Required]
    public string LifecycleTopic { get; set; } = Topics.LeadLifecycle;

    [Required]
    public string ConsumerGroup { get; set; } = "scoring-ingestion";

    /// <summary>Extra librdkafka settings (e.g. <c>Kafka__Client__security.protocol=SASL_SSL</c>) for real clusters.</summary>
    public Dictionary<string, string> Client { get; set; } = [];

    /// <summary>Create missing topics with AdminClient on start (real clusters only; off by default).</summary>
    public bool CreateTopics { get; set; }

    [Range(1, 10_000)]
    public int TopicPartitions { get; set; } = 6;

    [Range(1, 10)]
    public short TopicReplicationFactor { get; set; } = 3;
}
