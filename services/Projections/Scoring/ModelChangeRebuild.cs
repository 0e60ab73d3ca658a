using Marten;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;

namespace ScoringPlatform.Projections.Scoring;

/// <summary>
/// Rebuilds the LeadScore projection before the daemon starts when the stored score views were built by
/// another scoring model (the model is versioned data, see Scoring:ModelPath). Without it, every existing
/// lead's next event would fail in the projection (the state refuses a model it was not built with).
/// A rebuild replays every lead's events under the current model and raises no side effects, so no
/// lifecycle message is sent again; transitions the new model would have made in the past are not sent.
/// Replicas take turns on an advisory lock, so one rebuilds and the others find the views current.
/// The rebuild is <see cref="StreamOrderedRebuild"/> (readers keep the old views until a swap); Marten's own
/// rebuild stays available behind <c>Projections:StreamOrderedRebuild=false</c>.
/// </summary>
internal sealed partial class ModelChangeRebuild(
    IDocumentStore store,
    ScoringModelProvider models,
    IOptions<EventStoreOptions> options,
    IConfiguration configuration,
    ILogger<ModelChangeRebuild> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var model = models.Current;
        await using var connection = await StartupLock.AcquireAsync(options.Value, cancellationToken);

        await using (var query = store.QuerySession())
        {
            var stale = await query.Query<LeadScoreView>()
                .Where(v => v.ModelId != model.Id || v.ModelVersion != model.Version || v.Layout != LeadScoreView.CurrentLayout)
                .Select(v => new { v.ModelId, v.ModelVersion, v.Layout })
                .FirstOrDefaultAsync(cancellationToken);
            if (stale is null) return;
            LogRebuilding(logger, stale.ModelId, stale.ModelVersion, stale.Layout, model.Id, model.Version, LeadScoreView.CurrentLayout);
        }

        var schema = options.Value.Schema;
        if (configuration.GetValue("Projections:StreamOrderedRebuild", true))
        {
            try
            {
                // Writes the views, the progression, the schedule and the 'reset' notification itself.
                var result = await new StreamOrderedRebuild(store, model, schema, options.Value.ConnectionString!).RunAsync(cancellationToken);
                LogStreamOrdered(logger, model.Id, model.Version, result.Events, result.Documents, result.Ceiling, result.Elapsed.TotalSeconds);
                return;
            }
            catch (NotSupportedException ex)
            {
                // The views table is not the one it knows how to write (a column or index it does not fill): Marten's
                // rebuild writes whatever Marten maps.
                LogFallback(logger, ex.Message);
            }
        }

        using var daemon = await store.BuildProjectionDaemonAsync();
        await daemon.RebuildProjectionAsync(LeadScoreProjection.ProjectionName, TimeSpan.FromMinutes(5), cancellationToken);

        // A rebuild raises no side effects, so the schedule is rewritten from the rebuilt views in one statement.
        await using (var schedule = new NpgsqlCommand(StreamOrderedRebuild.AfterRebuildSql(schema), connection))
        {
            var rows = await schedule.ExecuteNonQueryAsync(cancellationToken);
            LogRebuilt(logger, model.Id, model.Version, Math.Max(rows, 0));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Score views were built by model {OldModelId} v{OldVersion} (layout {OldLayout}); rebuilding the LeadScore projection under {ModelId} v{Version} (layout {Layout}) before the daemon starts")]
    private static partial void LogRebuilding(ILogger logger, string oldModelId, int oldVersion, int oldLayout, string modelId, int version, int layout);

    [LoggerMessage(Level = LogLevel.Information, Message = "LeadScore projection rebuilt under model {ModelId} v{Version}; lifecycle schedule rewritten ({Rows} statement rows)")]
    private static partial void LogRebuilt(ILogger logger, string modelId, int version, int rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream-ordered rebuild not possible ({Reason}); using Marten's rebuild")]
    private static partial void LogFallback(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "LeadScore projection rebuilt (stream-ordered) under model {ModelId} v{Version}: {Events} events into {Documents} views up to sequence {Ceiling} in {Seconds:0.0}s; lifecycle schedule rewritten")]
    private static partial void LogStreamOrdered(ILogger logger, string modelId, int version, long events, long documents, long ceiling, double seconds);
}
