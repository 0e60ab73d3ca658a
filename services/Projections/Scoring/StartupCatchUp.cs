using Marten;
using Microsoft.Extensions.Options;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.ReadModel;

namespace ScoringPlatform.Projections.Scoring;

/// <summary>
/// Before the daemon starts (after <see cref="ModelChangeRebuild"/>), brings the LeadScore projection up to the store's
/// high-water mark with <see cref="StreamOrderedCatchUp"/> when it is at least
/// <c>Projections:StreamOrderedCatchUpThreshold</c> events behind (default <see cref="StreamOrderedCatchUp.DefaultThreshold"/>;
/// 0 turns it off). Each round covers at most <c>Projections:StreamOrderedCatchUpRoundEvents</c> sequence numbers
/// (default <see cref="StreamOrderedCatchUp.DefaultRoundLimit"/>) in one transaction, so a long backlog is committed
/// in parts. Rounds go on while the backlog is over the threshold and shrinking (events keep arriving meanwhile);
/// the daemon takes the rest. Replicas take turns on the model rebuild's advisory lock, so a replica that waited finds
/// the projection current. Set-based projection only (<c>EventStore:ScoreProjection=Marten</c> keeps Marten's path
/// throughout). The service answers no probe until this is done: deploy/k8s gives Projections a startup probe.
/// </summary>
internal sealed partial class StartupCatchUp(
    IDocumentStore store,
    ScoringModelProvider models,
    IOptions<EventStoreOptions> options,
    IConfiguration configuration,
    ILogger<StartupCatchUp> logger,
    ILoggerFactory loggers) : IHostedService
{
    public const string ThresholdKey = "Projections:StreamOrderedCatchUpThreshold";
    public const string RoundKey = "Projections:StreamOrderedCatchUpRoundEvents";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var threshold = configuration.GetValue(ThresholdKey, StreamOrderedCatchUp.DefaultThreshold);
        var roundLimit = configuration.GetValue(RoundKey, StreamOrderedCatchUp.DefaultRoundLimit);
        if (threshold < 0) throw new OptionsValidationException(ThresholdKey, typeof(long), [$"{ThresholdKey} must be 0 (off) or a number of events, not {threshold}"]);
        if (roundLimit < 1) throw new OptionsValidationException(RoundKey, typeof(long), [$"{RoundKey} must be a positive number of events, not {roundLimit}"]);
        if (threshold == 0 || options.Value.ScoreProjection != LeadScoreProjectionKind.SetBased) return;

        await using var turn = await StartupLock.AcquireAsync(options.Value, cancellationToken);
        var catchUp = new StreamOrderedCatchUp(store, models.Current, options.Value.Schema, options.Value.ConnectionString!,
            loggers.CreateLogger<LeadScoreLiveProjection>());
        var previousBacklog = long.MaxValue;
        while (true)
        {
            var result = await catchUp.RunAsync(threshold, cancellationToken, roundLimit);
            switch (result.Outcome)
            {
                case CatchUpOutcome.CaughtUp:
                    LogCaughtUp(logger, result.Events, result.Leads, result.From, result.Ceiling, result.HighWater, result.Elapsed.TotalSeconds,
                        result.Events / Math.Max(result.Elapsed.TotalSeconds, 0.001));
                    // Events arrive meanwhile: another round only while that shortens the backlog.
                    if (result.Backlog >= previousBacklog)
                    {
                        LogNotShrinking(logger, result.Backlog);
                        return;
                    }

                    previousBacklog = result.Backlog;
                    continue;
                case CatchUpOutcome.Overtaken:
                    LogOvertaken(logger, result.From);
                    return;
                default:
                    LogNotBehind(logger, result.Backlog, threshold);
                    return;
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information,
        Message = "LeadScore projection caught up stream-ordered: {Events} events of {Leads} leads, sequence {From} -> {Ceiling} (high-water mark {HighWater}), in {Seconds:0.0}s ({Rate:N0} events/s)")]
    private static partial void LogCaughtUp(ILogger logger, long events, long leads, long from, long ceiling, long highWater, double seconds, double rate);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Stream-ordered catch-up stops: the backlog ({Backlog} sequence numbers) did not shrink since the last round (events arrive as fast as it catches up); the daemon takes it")]
    private static partial void LogNotShrinking(ILogger logger, long backlog);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Stream-ordered catch-up rolled back: the LeadScore progression moved from {From} while it ran (another node's daemon); the daemon carries on")]
    private static partial void LogOvertaken(ILogger logger, long from);

    [LoggerMessage(Level = LogLevel.Debug, Message = "LeadScore projection {Backlog} events behind (catch-up threshold {Threshold}): the daemon takes it")]
    private static partial void LogNotBehind(ILogger logger, long backlog, long threshold);
}
