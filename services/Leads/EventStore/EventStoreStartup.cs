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
        if (options.Value.ApplySchemaOnStart)
        {
            await Retry(static ex => ex is NpgsqlException, LogSchemaNotReady).ExecuteAsync(
                async ct => await TuneViewStorageAsync(options.Value.ConnectionString!, options.Value.Schema, logger, ct), cancellationToken);
            await Retry(static ex => ex is NpgsqlException, LogSchemaNotReady).ExecuteAsync(
                async ct => await TuneAnalyzeAsync(options.Value.ConnectionString!, options.Value.Schema, logger, ct), cancellationToken);
        }

        LogSchemaReady(logger, options.Value.Schema);
    }

    /// <summary>
    /// How the score views' rows are stored. The live projection rewrites a lead's view for every event it applies, so
    /// the settings below are on the hot path; Marten has no setting for them and its schema check compares none,
    /// so the schema owner sets them here, each once. The stream-ordered rebuild's work table copies them
    /// (<c>like … including all</c>). Rows already stored keep their old form until rewritten; every form reads the same.
    /// <list type="bullet">
    /// <item><b>Storage <c>main</c></b>: a view (about 5 KB of JSON, 3.7 KB compressed, at 1M events / 100k leads) stays
    /// in the table's own row, compressed, instead of moving to the TOAST table. Out of line, every rewrite also inserted
    /// and deleted TOAST chunks and their index entries, and the TOAST table's autovacuum ran every minute or two; in a
    /// 12-minute soak at 1,000 events/s, past the services' first seconds, the projection's gap was over 600 ms for 110 s
    /// out of line and for 5.6 s in the row, and PostgreSQL used 0.44 cores against 0.30
    /// (docs/benchmarks.md, "Issue 11, seventh session"). PostgreSQL still moves a value out of line when even compressed
    /// it cannot fit a page.</item>
    /// <item><b>Compression lz4</b>: with PostgreSQL's default pglz, compressing took about half of a page's upsert (1,800
    /// views: 703 ms with pglz, 353 ms with lz4, about the same size). Skipped (logged) where the server was built without
    /// lz4.</item>
    /// <item><b>Storage <c>main</c> for the row's other text columns</b> (the id, Marten's <c>mt_dotnet_type</c>, the
    /// stage and the tier). A row over about 2 KB makes PostgreSQL move its largest value that may go out of line to the
    /// TOAST table, however small, and it weighs the row before it compresses <c>data</c>: so nearly every view had its
    /// 45-byte type name in the TOAST table (99,531 of 100,058 at 1M events), and every rewrite inserted a TOAST row and
    /// its index entry and left a dead one to vacuum (docs/benchmarks.md, "Issue 11, tenth session").</item>
    /// </list>
    /// Each change is postponed to the next start when the table stays locked for 5 s.
    /// </summary>
    internal static async Task TuneViewStorageAsync(string connectionString, string schema, ILogger logger, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        string? storage = null, compression = null;
        var outOfLine = new List<string>();
        await using (var check = new NpgsqlCommand(
            "select a.attname::text, a.attstorage::text, a.attcompression::text from pg_attribute a join pg_class c on c.oid = a.attrelid " +
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = @schema and c.relname = @table and a.attnum > 0 and not a.attisdropped", connection))
        {
            check.Parameters.AddWithValue("schema", schema);
            check.Parameters.AddWithValue("table", ReadModel.StreamOrderedRebuild.TableName);
            await using var reader = await check.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var (column, columnStorage) = (reader.GetString(0), reader.GetString(1));
                if (column == "data") (storage, compression) = (columnStorage, reader.GetString(2));
                else if (columnStorage == "x") outOfLine.Add(column);
            }
        }

        if (storage is null) return; // no such table
        if (storage != "m" && await AlterViewsAsync(connection, schema, "alter column data set storage main", logger, ct)) LogViewsInline(logger, schema);
        var inline = string.Join(", ", outOfLine.Select(c => $"alter column \"{c.Replace("\"", "\"\"", StringComparison.Ordinal)}\" set storage main"));
        if (outOfLine.Count > 0 && await AlterViewsAsync(connection, schema, inline, logger, ct))
        {
            LogColumnsInline(logger, schema, string.Join(", ", outOfLine));
        }

        if (compression == "l") return;
        try
        {
            if (await AlterViewsAsync(connection, schema, "alter column data set compression lz4", logger, ct)) LogViewsCompressed(logger, schema);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.FeatureNotSupported)
        {
            LogLz4Unavailable(logger, schema, ex);
        }
    }

    /// <summary>The table setting <see cref="TuneAnalyzeAsync"/> sets.</summary>
    internal const string AnalyzeSetting = "autovacuum_analyze_scale_factor";

    /// <summary>Its value: analyze once the rows have changed this many times over.</summary>
    internal const int AnalyzeScaleFactor = 10;

    /// <summary>
    /// How often autovacuum analyzes the two tables whose rows are rewritten much faster than what their statistics
    /// describe changes: the score views (every applied event rewrites one; a lead's stage or tier changes with few of
    /// them) and the lifecycle outbox (every message is inserted, then marked published). By PostgreSQL's default (once a
    /// tenth of the rows changed) both were analyzed every minute at 1,000 events/s, 30,000 sampled rows and about half a
    /// second of CPU each time, in the same seconds as the views' vacuum, where the live projection's slowest moments
    /// of a 30-minute soak gathered (docs/benchmarks.md, "Issue 11, thirteenth session"). Now autovacuum analyzes each
    /// once its rows have changed <see cref="AnalyzeScaleFactor"/> times over: about every 17 minutes for the views of
    /// 100k leads at 1,000 events/s. The verdict feed's range (<c>last_sequence</c> above the newest seen) lies past the
    /// statistics anyway, where the planner reads the column's end from its index. A value an operator has set stays;
    /// the stream-ordered rebuild's work table copies the setting.
    /// </summary>
    internal static async Task TuneAnalyzeAsync(string connectionString, string schema, ILogger logger, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        foreach (var table in new[] { ReadModel.StreamOrderedRebuild.TableName, Lifecycle.LifecycleOutbox.TableName })
        {
            await using (var check = new NpgsqlCommand(
                "select coalesce(c.reloptions, '{}') from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = @schema and c.relname = @table",
                connection))
            {
                check.Parameters.AddWithValue("schema", schema);
                check.Parameters.AddWithValue("table", table);
                if (await check.ExecuteScalarAsync(ct) is not string[] settings ||
                    settings.Any(s => s.StartsWith(AnalyzeSetting + "=", StringComparison.Ordinal)))
                {
                    continue; // no such table, or already set (by this step or by an operator)
                }
            }

            if (await AlterTableAsync(connection, schema, table, $"set ({AnalyzeSetting} = {AnalyzeScaleFactor})", logger, ct))
            {
                LogAnalyzeTuned(logger, schema, table, AnalyzeScaleFactor);
            }
        }
    }

    /// <summary>One catalog-only change to the views' table (its columns' storage); false when it stayed locked for 5 s.</summary>
    private static Task<bool> AlterViewsAsync(NpgsqlConnection connection, string schema, string change, ILogger logger, CancellationToken ct) =>
        AlterTableAsync(connection, schema, ReadModel.StreamOrderedRebuild.TableName, change, logger, ct);

    /// <summary>One catalog-only change to a table; false when it stayed locked for 5 s.</summary>
    private static async Task<bool> AlterTableAsync(NpgsqlConnection connection, string schema, string table, string change, ILogger logger, CancellationToken ct)
    {
        try
        {
            // It takes the table's exclusive lock: never queue readers behind it for long (the timeout is local to this
            // transaction, so it does not stay on the pooled connection).
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using var alter = new NpgsqlCommand(
                $"set local lock_timeout = '5s'; alter table {schema}.{table} {change}",
                connection, transaction);
            await alter.ExecuteNonQueryAsync(ct);
            await transaction.CommitAsync(ct);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            LogTableChangePostponed(logger, table, schema, change, ex);
            return false;
        }
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Score views in schema '{Schema}' now compress with lz4")]
    private static partial void LogViewsCompressed(ILogger logger, string schema);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL cannot compress with lz4 (built without it); the score views in schema '{Schema}' keep pglz")]
    private static partial void LogLz4Unavailable(ILogger logger, string schema, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Score views in schema '{Schema}' are now stored in their rows (storage main), not in the TOAST table")]
    private static partial void LogViewsInline(ILogger logger, string schema);

    [LoggerMessage(Level = LogLevel.Information, Message = "The score views' columns {Columns} in schema '{Schema}' are now kept in their rows (storage main), not in the TOAST table")]
    private static partial void LogColumnsInline(ILogger logger, string schema, string columns);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Table {Table} in schema '{Schema}' was not changed ({Change}): the table was busy for 5 s; the next start tries again")]
    private static partial void LogTableChangePostponed(ILogger logger, string table, string schema, string change, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Table {Table} in schema '{Schema}' is now analyzed by autovacuum once its rows have changed {Factor} times over")]
    private static partial void LogAnalyzeTuned(ILogger logger, string schema, string table, int factor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event store schema '{Schema}' is up to date")]
    private static partial void LogSchemaReady(ILogger logger, string schema);
}
