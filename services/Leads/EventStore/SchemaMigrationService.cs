using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Leads.EventStore;

/// <summary>
/// Creates or upgrades the Marten schema before the service does any work (unless turned off with
/// EventStore:ApplySchemaOnStart=false). Retries while PostgreSQL is still starting.
/// </summary>
internal sealed partial class SchemaMigrationService(
    IDocumentStore store, IOptions<EventStoreOptions> options, ILogger<SchemaMigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.ApplySchemaOnStart) return;

        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 8,
                Delay = TimeSpan.FromMilliseconds(250),
                BackoffType = DelayBackoffType.Exponential,
                MaxDelay = TimeSpan.FromSeconds(5),
                ShouldHandle = new PredicateBuilder().Handle<Npgsql.NpgsqlException>(),
                OnRetry = args =>
                {
                    LogRetry(logger, args.AttemptNumber + 1, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

        await pipeline.ExecuteAsync(
            async ct => await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync(),
            cancellationToken);
        LogApplied(logger, options.Value.Schema);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event store schema not applied yet (attempt {Attempt}); retrying")]
    private static partial void LogRetry(ILogger logger, int attempt, Exception? exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event store schema '{Schema}' is up to date")]
    private static partial void LogApplied(ILogger logger, string schema);
}
