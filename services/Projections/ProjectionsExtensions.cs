using JasperFx.Events.Daemon;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Messaging;
using ScoringPlatform.Projections.Lifecycle;
using ScoringPlatform.Projections.Scoring;

namespace ScoringPlatform.Projections;

public static class ProjectionsExtensions
{
    /// <summary>
    /// Hosts Marten's async daemon: the lead score projection and the lifecycle outbox relay (event store -> Kafka).
    /// EventStore:DaemonMode = Solo (one node, the default) or HotCold (several replicas, one leader).
    /// </summary>
    public static WebApplicationBuilder AddProjections(this WebApplicationBuilder builder)
    {
        var mode = builder.Configuration.GetValue("EventStore:DaemonMode", DaemonMode.Solo);
        builder.AddKafka();
        builder.Services.AddHealthChecks().AddPostgresReadiness();
        builder.Services.AddSingleton<LifecycleProducer>();
        var marten = builder.AddLeadEventStore();
        // Registered before the daemon: hosted services start in order, so the views match the model first.
        builder.Services.AddHostedService<ModelChangeRebuild>();
        marten.AddAsyncDaemon(mode);
        builder.Services.AddHealthChecks().AddCheck<ProjectionDaemonHealthCheck>("projection-daemon");
        builder.Services.AddSingleton<LifecycleOutboxRelay>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LifecycleOutboxRelay>());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHealthChecks().AddCheck<LifecycleRelayHealthCheck>("lifecycle-relay");
        return builder;
    }
}
