using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ScoringPlatform.Leads.Identity;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using Weasel.Core;

namespace ScoringPlatform.Leads.EventStore;

/// <summary>Which implementation maintains the score views (the same documents either way).</summary>
public enum LeadScoreProjectionKind
{
    /// <summary><see cref="LeadScoreLiveProjection"/>: set-based pages (what the services run).</summary>
    SetBased,

    /// <summary>Marten's <see cref="LeadScoreProjection"/> (SingleStreamProjection): the reference the tests diff against.</summary>
    Marten,
}

/// <summary>The Marten event store every service shares: one stream per lead, keyed by the lead id.</summary>
public static class LeadEventStore
{
    /// <summary>
    /// Most events per page of the live projection (one load and one statement per table each). Measured at 100k events /
    /// 10k leads (docs/benchmarks.md): 5,000-event pages with a 1,000-event hopper caught up at 1,974/s with Projections
    /// peaking at 584 MB; 2,000-event pages with Marten's default hopper at 2,279/s and 438 MB.
    /// </summary>
    public const int LiveBatchSize = 2_000;

    public static MartenServiceCollectionExtensions.MartenConfigurationExpression AddLeadEventStore(
        this IHostApplicationBuilder builder, Action<StoreOptions, IServiceProvider>? configure = null)
    {
        var services = builder.Services;
        services.AddOptions<EventStoreOptions>()
            .BindConfiguration(EventStoreOptions.Section)
            .Configure(o => o.ConnectionString ??= builder.Configuration.GetConnectionString("EventStore"))
            .ValidateDataAnnotations()
            .Validate(o => !string.IsNullOrWhiteSpace(o.ConnectionString),
                "No PostgreSQL connection string: set ConnectionStrings__EventStore (or EventStore__ConnectionString).")
            .ValidateOnStart();
        services.AddOptions<ScoringOptions>().BindConfiguration(ScoringOptions.Section);
        services.AddSingleton<ScoringModelProvider>();

        var applySchema = builder.Configuration.GetValue($"{EventStoreOptions.Section}:{nameof(EventStoreOptions.ApplySchemaOnStart)}", true);
        var marten = services.AddMarten(sp =>
        {
            var options = sp.GetRequiredService<IOptions<EventStoreOptions>>().Value;
            var store = new StoreOptions();
            Configure(store, options.ConnectionString!, options.Schema, sp.GetRequiredService<ScoringModelProvider>().Current,
                options.ScoreProjection, sp.GetService<ILoggerFactory>());
            store.AutoCreateSchemaObjects = options.ApplySchemaOnStart ? AutoCreate.CreateOrUpdate : AutoCreate.None;
            // A node that loses the race for Marten's migration lock starts anyway and waits in EventStoreStartup.
            // The lock is per schema: with Marten's one default id, a store of another schema in the same
            // database could win it and leave this schema to nobody.
            store.ResourceMigrationFailureMode = ResourceMigrationFailureMode.ContinueOnFailures;
            store.ApplyChangesLockId = EventStoreStartup.SchemaLockId(options.Schema);
            configure?.Invoke(store, sp);
            return store;
        }).UseLightweightSessions();
        if (applySchema) marten.ApplyAllDatabaseChangesOnStartup();

        services.AddHostedService<EventStoreStartup>();
        return marten;
    }

    /// <summary>Store configuration, also used directly by tests and benchmarks.</summary>
    public static void Configure(StoreOptions opts, string connectionString, string schema, ScoringModel model,
        LeadScoreProjectionKind projection = LeadScoreProjectionKind.SetBased, ILoggerFactory? loggers = null)
    {
        opts.Connection(connectionString);
        opts.DatabaseSchemaName = schema;
        // jsonb reorders keys (shortest first), so a polymorphic type's discriminator is rarely the first property.
        opts.UseSystemTextJsonForSerialization(EnumStorage.AsString, configure: o => o.AllowOutOfOrderMetadataProperties = true);

        opts.Events.StreamIdentity = StreamIdentity.AsString;
        // Idempotent append: a redelivered engagement event maps to the same id and is rejected by the index.
        opts.Events.EnableUniqueIndexOnEventId = true;
        opts.Events.AppendMode = EventAppendMode.Quick;
        opts.Events.MetadataConfig.HeadersEnabled = true;
        // Needed with the DistributedLock fallback on this package mirror (see README, "Marten and the package mirror").
        opts.Events.UseAdvisoryLockTransaction = true;

        // Freshness: wake the daemon on append (LISTEN/NOTIFY) instead of waiting for the next poll.
        opts.Events.UseListenNotifyForEventAppends = true;
        // An event the projection cannot apply stops the shard (readiness reports it) instead of being skipped:
        // a skipped event would leave the lead's score and stage wrong for good. (Marten skips by default.)
        opts.Projections.Errors.SkipApplyErrors = false;
        opts.Projections.FastPollingTime = TimeSpan.FromMilliseconds(100);
        opts.Projections.SlowPollingTime = TimeSpan.FromMilliseconds(500);

        opts.Events.AddEventType<EngagementRecorded>();
        opts.Events.AddEventType<ProfileUpdated>();
        opts.Events.AddEventType<SalesFeedbackRecorded>();
        opts.Events.AddEventType<LifecycleClockTicked>();
        opts.Events.AddEventType<MqlCrossed>();
        opts.Events.AddEventType<MqlExited>();
        opts.Events.AddEventType<IdentityLinked>();
        opts.Events.AddEventType<MergedInto>();

        if (projection == LeadScoreProjectionKind.SetBased)
        {
            // The live projection, set-based (one load query and one statement per table per page, see
            // LeadScoreLiveProjection). Nothing is cached between pages: a page that fails is re-run from the
            // committed documents. A rebuild tears the views down first, as Marten does for its own projection.
            opts.Projections.Add(new LeadScoreLiveProjection(model, schema, loggers?.CreateLogger<LeadScoreLiveProjection>()), ProjectionLifecycle.Async, LeadScoreProjection.ProjectionName, o =>
            {
                o.BatchSize = LiveBatchSize;
                // One range loaded at a time: each page takes everything since the last one (up to a batch). With the
                // default the shard queues a range per step of the high-water mark, so after any slow spell it works
                // through a queue of small pages, and its lag clears only as fast as they outrun the arrivals (a 35-s
                // stretch at over 3 s during a vacuum of the views, none with this; docs/benchmarks.md, "Issue 11, tenth
                // session").
                o.MaximumHopperSize = 1;
                o.DeleteViewTypeOnTeardown<LeadScoreView>();
            });
        }
        else
        {
            // Marten's own path (kept for the differential test). The aggregate cache stays off (Marten's default,
            // pinned here): the projection folds into the loaded view in place, so a page that fails must start
            // again from the committed document, never from a cached object a failed attempt already changed.
            opts.Projections.Add(new LeadScoreProjection(model, schema), ProjectionLifecycle.Async, o =>
            {
                o.BatchSize = 2_000;
                o.CacheLimitPerTenant = 0;
            });
        }

        opts.Storage.ExtendedSchemaObjects.Add(LifecycleOutbox.Table(schema));
        opts.Storage.ExtendedSchemaObjects.Add(LifecycleSchedule.Table(schema));
        opts.Storage.ExtendedSchemaObjects.Add(IdentityAliases.Table(schema));
        // Lead lists filter by stage and tier and order by MQL entry or SLA deadline: real columns, indexed.
        opts.Schema.For<LeadScoreView>().Identity(x => x.Id)
            // What Marten applies to a projected aggregate's document (the set-based projection writes the same rows):
            // mt_version is the numeric revision, the stream version of the last event applied.
            .UseNumericRevisions(true)
            .Duplicate(x => x.Stage)
            .Duplicate(x => x.Tier)
            .Duplicate(x => x.MqlEnteredAt!, "timestamptz")
            .Duplicate(x => x.SlaDueAt!, "timestamptz")
            // The change feed readers follow (see LeadScoreView.LastSequence).
            .Duplicate(x => x.LastSequence);
    }
}
