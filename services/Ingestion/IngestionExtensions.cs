using Microsoft.Extensions.DependencyInjection.Extensions;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Ingestion.Health;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Messaging;

namespace ScoringPlatform.Ingestion;

public static class IngestionExtensions
{
    public static WebApplicationBuilder AddIngestion(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<IngestionOptions>()
            .BindConfiguration(IngestionOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.OldestOccurredAt < DateTimeOffset.UtcNow, "Ingestion:OldestOccurredAt must be in the past.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddKafka();
        builder.AddLeadEventStore();
        builder.Services.AddHealthChecks().AddPostgresReadiness();
        builder.Services.AddSingleton<StoreResilience>();
        builder.Services.AddSingleton<IngestionProgress>();
        builder.Services.AddSingleton<EngagementAppender>();
        builder.Services.AddSingleton<DeadLetterPublisher>();
        builder.Services.AddHostedService<TopicProvisioner>();
        builder.Services.AddHostedService<EngagementConsumer>();
        builder.Services.AddHealthChecks().AddCheck<IngestionHealthCheck>("ingestion");
        return builder;
    }
}
