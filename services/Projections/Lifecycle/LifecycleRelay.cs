using System.Diagnostics;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using Polly;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>
/// Relays committed <see cref="MqlCrossed"/>/<see cref="MqlExited"/> events to the lifecycle topic. The
/// subscription's progress advances only after Kafka acknowledged every message of the page, so a crash
/// between commit and publish re-sends rather than loses. The message id is the event id: a consumer
/// that sees it twice (only after such a crash) can drop the copy.
/// </summary>
public sealed partial class LifecycleRelay : SubscriptionBase
{
    public const string RelayName = "LifecycleRelay";

    private readonly LifecycleProducer _producer;
    private readonly ILogger<LifecycleRelay> _logger;
    private readonly ResiliencePipeline _retry;

    public LifecycleRelay(LifecycleProducer producer, ILogger<LifecycleRelay> logger)
    {
        _producer = producer;
        _logger = logger;
        Name = RelayName;
        IncludeType<MqlCrossed>();
        IncludeType<MqlExited>();
        _retry = Resilience.RetryUntilCancelled(
            ex => ex is Confluent.Kafka.KafkaException, (attempt, ex) => LogRetry(_logger, attempt, ex));
    }

    public override async Task<IChangeListener> ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var deliveries = new List<Task>(page.Events.Count);
        foreach (var e in page.Events)
        {
            if (ToMessage(e) is not { } message) continue;
            deliveries.Add(_retry.ExecuteAsync(async ct => await PublishAsync(message, ct), cancellationToken).AsTask());
        }

        await Task.WhenAll(deliveries);
        return NullChangeListener.Instance;
    }

    private async Task PublishAsync((LeadLifecycleMessage Message, string? TraceParent) item, CancellationToken ct)
    {
        using var activity = PlatformTelemetry.Source.StartActivity(
            $"{_producer.Topic} publish", ActivityKind.Producer, PlatformTelemetry.ParseTraceParent(item.TraceParent));
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("messaging.destination.name", _producer.Topic);
        activity?.SetTag("messaging.message.id", item.Message.MessageId.ToString());
        activity?.SetTag("lead.id", item.Message.LeadId);
        var headers = new Confluent.Kafka.Headers();
        PlatformTelemetry.Inject(activity, headers);
        await _producer.PublishAsync(item.Message, headers, ct);
        LogPublished(_logger, item.Message.Type, item.Message.LeadId, item.Message.MessageId);
    }

    internal static (LeadLifecycleMessage, string?)? ToMessage(IEvent e) => e.Data switch
    {
        MqlCrossed c => (new LeadLifecycleMessage
        {
            MessageId = e.Id,
            Type = LifecycleMessageTypes.MqlCrossed,
            LeadId = c.LeadId,
            OccurredAt = c.CrossedAt,
            Score = c.Score,
            FitScore = c.FitScore,
            EngagementScore = c.EngagementScore,
            Tier = c.Tier,
            ModelId = c.ModelId,
            ModelVersion = c.ModelVersion,
            TriggeringEventId = c.TriggeringEventId,
        }, c.TraceParent),
        MqlExited x => (new LeadLifecycleMessage
        {
            MessageId = e.Id,
            Type = LifecycleMessageTypes.MqlExited,
            LeadId = x.LeadId,
            OccurredAt = x.ExitedAt,
            Score = x.Score,
            ModelId = x.ModelId,
            ModelVersion = x.ModelVersion,
            TriggeringEventId = x.TriggeringEventId,
            Reason = "score fell below the exit threshold",
        }, x.TraceParent),
        _ => null,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Published {Type} for lead {LeadId} (message {MessageId})")]
    private static partial void LogPublished(ILogger logger, string type, string leadId, Guid messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lifecycle publish failed (attempt {Attempt}); retrying before the relay advances")]
    private static partial void LogRetry(ILogger logger, int attempt, Exception? exception);
}
