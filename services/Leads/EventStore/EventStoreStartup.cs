using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using ScoringPlatform.ServiceDefaults;
using Weasel.Core;
using Weasel.Core.Migrations;

namespace ScoringPlatform.Leads.EventStore;

/// <summary>
/// Holds the service's start until the event store can be used. Marten applies the schema itself
/// (<c>ApplyAllDatabaseChangesOnStartup</c>, in the service whose EventStore:ApplySchemaOnStart is true, the owner),
/// under its advisory lock <see cref="StoreOptions.ApplyChangesLockId"/> (one per schema, <see cref="SchemaLockId"/>)
/// so two owners never run DDL at once.
/// That lock does not queue: Marten gives up after ~0.4 s when another node holds it. So every service,
/// owner or not, then waits here until the database matches the configuration; the Kafka consumer and the
/// projection daemon are hosted services registered after this one and start only once it has.
/// </summary>
internal sealed partial class EventStoreStartup(
    IDocumentStore store, IOptions<EventStoreOptions> options, ILogger<EventStoreStartup> logger) : IHostedLifecycleService
{
    /// <summary>Runs before any StartAsync, so before Marten's migration: wait out a PostgreSQL that is still starting.</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await Retry(static ex => ex is NpgsqlException or TimeoutException, LogPostgresNotReady).ExecuteAsync(async ct =>
        {
            await using var connection = new NpgsqlConnection(options.Value.ConnectionString);
            await connection.OpenAsync(ct);
        }, cancellationToken);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Retry(static ex => ex is DatabaseValidationException or NpgsqlException, LogSchemaNotReady).ExecuteAsync(
            async ct => await store.Storage.Database.AssertDatabaseMatchesConfigurationAsync(ct), cancellationToken);
        LogSchemaReady(logger, options.Value.Schema);
    }

    private ResiliencePipeline Retry(Func<Exception, bool> handles, Action<ILogger, int, string, Exception?> log) =>
        Resilience.RetryUntilCancelled(handles, (attempt, ex) => log(logger, attempt, options.Value.Schema, ex));

    /// <summary>Marten's migration lock id for one schema (a stable hash of its name).</summary>
    public static int SchemaLockId(string schema) =>
        BinaryPrimitives.ReadInt32BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("scoring-schema:" + schema)));

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL not reachable yet (attempt {Attempt}, schema '{Schema}'); retrying")]
    private static partial void LogPostgresNotReady(ILogger logger, int attempt, string schema, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event store schema '{Schema}' not up to date yet (attempt {Attempt}); waiting for its owner (EventStore:ApplySchemaOnStart)")]
    private static partial void LogSchemaNotReady(ILogger logger, int attempt, string schema, Exception? exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event store schema '{Schema}' is up to date")]
    private static partial void LogSchemaReady(ILogger logger, string schema);
}
