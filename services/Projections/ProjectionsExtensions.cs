using JasperFx.Events.Daemon;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Messaging;
using ScoringPlatform.Projections.Lifecycle;
using ScoringPlatform.Projections.Scoring;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Projections;

public static class ProjectionsExtensions
{
    /// <summary>
    /// Hosts Marten's async daemon: the lead score projection, the lifecycle scheduler (due transitions -> clock ticks in
    /// the lead streams) and the lifecycle outbox relay (event store -> Kafka).
    /// EventStore:DaemonMode = Solo (one node, the default) or HotCold (several replicas, one leader).
    /// Clock:File replaces the system clock (see <see cref="PlatformClock"/>).
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
        // Then, when the projection is far behind, a stream-ordered catch-up (each touched lead loaded and written once).
        builder.Services.AddHostedService<StartupCatchUp>();
        // Then the page step, run on the newest events and rolled back, so the daemon's first pages are not cold ones.
        builder.Services.AddHostedService<ProjectionWarmUp>();
        marten.AddAsyncDaemon(mode);
        builder.Services.AddHealthChecks().AddCheck<ProjectionDaemonHealthCheck>("projection-daemon");
        builder.Services.AddSingleton<LifecycleOutboxRelay>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LifecycleOutboxRelay>());
        builder.Services.AddPlatformClock(builder.Configuration);
        builder.Services.AddHealthChecks().AddCheck<LifecycleRelayHealthCheck>("lifecycle-relay");
        builder.Services.AddOptions<LifecycleSchedulerOptions>()
            .BindConfiguration(LifecycleSchedulerOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<LifecycleScheduler>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LifecycleScheduler>());
        builder.Services.AddHealthChecks().AddCheck<LifecycleSchedulerHealthCheck>("lifecycle-scheduler");
        return builder;
    }
}
