using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Options;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>
/// With Kafka:CreateTopics=true, creates the platform topics that are missing (real clusters; the embedded
/// dev broker creates them itself). Off by default: most clusters provision topics separately.
/// </summary>
internal sealed partial class TopicProvisioner(IOptions<KafkaOptions> options, ILogger<TopicProvisioner> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.CreateTopics) return;

        using var admin = new AdminClientBuilder(o.AdminConfig("ingestion-admin")).Build();
        var existing = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Select(t => t.Topic).ToHashSet();
        var missing = new[] { o.EngagementTopic, o.DeadLetterTopic, o.LifecycleTopic }
            .Where(t => !existing.Contains(t))
            .Select(t => new TopicSpecification { Name = t, NumPartitions = o.TopicPartitions, ReplicationFactor = o.TopicReplicationFactor })
            .ToList();
        if (missing.Count == 0) return;

        try
        {
            await admin.CreateTopicsAsync(missing);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Another instance created them first.
        }

        LogCreated(logger, string.Join(", ", missing.Select(t => t.Name)));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Kafka topics: {Topics}")]
    private static partial void LogCreated(ILogger logger, string topics);
}
