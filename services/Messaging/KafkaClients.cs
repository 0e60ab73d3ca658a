using Confluent.Kafka;

namespace ScoringPlatform.Messaging;

/// <summary>Client configurations built from <see cref="KafkaOptions"/>; extra librdkafka keys win.</summary>
public static class KafkaClients
{
    public static ProducerConfig ProducerConfig(this KafkaOptions options, string clientId)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            ClientId = clientId,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
        };
        Merge(config, options);
        return config;
    }

    public static ConsumerConfig ConsumerConfig(this KafkaOptions options, string clientId)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = options.BootstrapServers,
            ClientId = clientId,
            GroupId = options.ConsumerGroup,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = false,
            // Freshness: a fetch with no data returns after at most 100 ms (default 500 ms).
            FetchWaitMaxMs = 100,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
        };
        Merge(config, options);
        return config;
    }

    public static AdminClientConfig AdminConfig(this KafkaOptions options, string clientId)
    {
        var config = new AdminClientConfig { BootstrapServers = options.BootstrapServers, ClientId = clientId };
        Merge(config, options);
        return config;
    }

    private static void Merge(ClientConfig config, KafkaOptions options)
    {
        foreach (var (key, value) in options.Client)
        {
            config.Set(key, value);
        }
    }
}
