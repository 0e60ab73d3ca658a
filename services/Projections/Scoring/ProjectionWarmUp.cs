using Microsoft.Extensions.Options;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.ReadModel;
using Marten;

namespace ScoringPlatform.Projections.Scoring;

/// <summary>
/// Before the daemon starts (after <see cref="StartupCatchUp"/>), runs the live projection's page step on the newest
/// events in rolled-back transactions (<see cref="LeadScoreWarmUp"/>) for at most <c>Projections:WarmUpSeconds</c>
/// (default <see cref="DefaultSeconds"/>; 0 turns it off), so the daemon's first pages are not the slow, cold ones.
/// The service answers no probe until this is done. A warm-up that fails is logged and the service starts anyway: it
/// writes nothing, so nothing is left to mend. Set-based projection only.
/// </summary>
internal sealed partial class ProjectionWarmUp(
    IDocumentStore store,
    ScoringModelProvider models,
    IOptions<EventStoreOptions> options,
    IConfiguration configuration,
    ILogger<ProjectionWarmUp> logger,
    ILoggerFactory loggers) : IHostedService
{
    public const string SecondsKey = "Projections:WarmUpSeconds";
    public const double DefaultSeconds = 15;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var seconds = configuration.GetValue(SecondsKey, DefaultSeconds);
        if (seconds < 0) throw new OptionsValidationException(SecondsKey, typeof(double), [$"{SecondsKey} must be 0 (off) or a number of seconds, not {seconds}"]);
        if (seconds == 0 || options.Value.ScoreProjection != LeadScoreProjectionKind.SetBased) return;

        try
        {
            var result = await new LeadScoreWarmUp(store, models.Current, options.Value.Schema, options.Value.ConnectionString!,
                    loggers.CreateLogger<LeadScoreWarmUp>())
                .RunAsync(TimeSpan.FromSeconds(seconds), cancellationToken);
            if (result.Rounds == 0) LogNothing(logger);
            else
            {
                LogWarmedUp(logger, result.Rounds, result.RoundEvents, result.Elapsed.TotalSeconds, result.Compiled, result.JitTime.TotalSeconds,
                    result.Quiet ? "a round compiled " + result.CompiledInLastRound + " methods" : "the time budget ran out");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFailed(logger, ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information,
        Message = "LeadScore projection warmed up before the daemon: {Rounds} rounds of {Events} events (rolled back) in {Seconds:0.0}s, {Compiled} methods compiled ({JitSeconds:0.0}s of JIT); stopped because {Reason}")]
    private static partial void LogWarmedUp(ILogger logger, int rounds, int events, double seconds, long compiled, double jitSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "LeadScore projection not warmed up: the store has no events yet")]
    private static partial void LogNothing(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LeadScore projection warm-up failed (nothing was written); the daemon starts cold")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
