using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ScoringPlatform.Messaging;

public static class KafkaExtensions
{
    public const string ReadinessCheck = "kafka";

    /// <summary>
    /// For services that talk to Kafka: binds <see cref="KafkaOptions"/> (validated on start, so a missing
    /// Kafka:BootstrapServers fails fast) and makes readiness depend on the cluster answering.
    /// </summary>
    public static TBuilder AddKafka<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<KafkaOptions>()
            .BindConfiguration(KafkaOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddHealthChecks().AddCheck<KafkaHealthCheck>(ReadinessCheck);
        return builder;
    }
}
