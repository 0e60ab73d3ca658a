using ScoringPlatform.Ingestion.Consuming;
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
            .ValidateOnStart();
        builder.AddKafka();
        builder.AddLeadEventStore();
        builder.Services.AddHealthChecks().AddPostgresReadiness();
        builder.Services.AddSingleton<EngagementAppender>();
        builder.Services.AddSingleton<DeadLetterPublisher>();
        builder.Services.AddHostedService<TopicProvisioner>();
        builder.Services.AddHostedService<EngagementConsumer>();
        return builder;
    }
}
