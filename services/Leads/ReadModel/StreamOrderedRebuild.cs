using System.Diagnostics;
using System.Threading.Channels;
using JasperFx.Events;
using Marten;
using Npgsql;
using NpgsqlTypes;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Scoring;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// Rebuilds the LeadScore views without Marten's page-by-page load and upsert: reads the event store up to the
/// rebuild ceiling ordered by stream, folds one stream at a time with <see cref="LeadScoreProjection.Evolve"/> (the
/// live projection's own code), writes the documents by binary COPY into a new table shaped like the live one, builds
/// its indexes, and swaps it in with one short transaction that also moves the projection's progression to the
/// ceiling. Readers keep reading the old views until that swap; memory holds one stream's state (plus a bounded
/// read-ahead). A rebuild raises no side effects (no outbox rows); the lifecycle schedule is rewritten from the new
/// views afterwards and <see cref="LeadScoreProjection.ChangesChannel"/> is told <c>reset</c>.
/// Events above the ceiling are left to the daemon, which resumes from the progression row.
/// </summary>
public sealed class StreamOrderedRebuild(IDocumentStore store, ScoringModel model, string schema, string connectionString)
{
    /// <summary>The live views' table (Marten's name for <see cref="LeadScoreView"/>).</summary>
    public const string TableName = "mt_doc_leadscoreview";

    /// <summary>The table the rebuild writes before the swap; a run that died before the swap leaves it, the next one drops it.</summary>
    public const string WorkTableName = TableName + "_rebuild";

    /// <summary>
    /// The columns this rebuild writes, in Marten's order: the document, Marten's metadata and the duplicated fields
    /// <see cref="LeadEventStore"/> configures. A live table with other columns is refused (<see cref="NotSupportedException"/>),
    /// so a new duplicated field cannot be silently left empty.
    /// </summary>
    private static readonly string[] Columns =
        ["id", "data", "mt_last_modified", "mt_dotnet_type", "mt_version", "stage", "tier", "mql_entered_at", "sla_due_at", "last_sequence"];

    /// <summary>Test hook: runs once while the COPY into the work table is open (after its first document).</summary>
    public Func<Task>? WhileCopying { get; init; }

    /// <summary>Test hook: runs after the work table is complete and indexed, before the swap (throw to simulate a crash).</summary>
    public Func<Task>? BeforeSwap { get; init; }

    /// <summary>
    /// What follows any rebuild of the views, one transaction: the lifecycle schedule rewritten from them (a rebuild
    /// writes no schedule rows of its own) and <c>reset</c> on <see cref="LeadScoreProjection.ChangesChannel"/>.
    /// </summary>
    public static string AfterRebuildSql(string schema) =>
        $"begin; delete from {schema}.{LifecycleSchedule.TableName}; " +
        $"insert into {schema}.{LifecycleSchedule.TableName} (lead_id, due_at) " +
        $"select id, (data ->> 'NextDueAt')::timestamptz from {schema}.{TableName} where data ->> 'NextDueAt' is not null; " +
        $"select pg_notify('{LeadScoreProjection.ChangesChannel(schema)}', 'reset'); commit;";

    public async Task<StreamOrderedRebuildResult> RunAsync(CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, CommandTimeout = 0 };
        await using var control = new NpgsqlConnection(builder.ConnectionString);
        await control.OpenAsync(cancellationToken);
        // One rebuild per schema at a time (the work table is shared); a second one fails fast instead of waiting.
        if (!await ScalarAsync<bool>(control, "select pg_try_advisory_lock(hashtext(@key))", cancellationToken,
                ("key", $"{schema}.{LeadScoreProjection.ProjectionName}.stream-ordered-rebuild")))
        {
            throw new InvalidOperationException($"another stream-ordered rebuild of {schema} is running");
        }

        await ExecuteAsync(control, $"drop table if exists {schema}.{WorkTableName}", cancellationToken);
        var indexes = await LiveIndexesAsync(control, cancellationToken);

        // Marten's own ceiling for a rebuild: its high-water detection run once (committed sequences only; a gap is
        // skipped only when Marten would skip it).
        long ceiling;
        using (var daemon = await store.BuildProjectionDaemonAsync())
        {
            await daemon.PrepareForRebuildsAsync();
            ceiling = daemon.HighWaterMark();
        }

        // Without INDEXES: the primary key and indexes are built once after the COPY, under temporary names. LIKE copies
        // the columns' storage but not the table's own settings (a fillfactor or autovacuum settings an operator set):
        // those are copied from the catalog, so the swap keeps them.
        var settings = await ScalarAsync<object>(control, "select reloptions from pg_class where oid = @table::regclass", cancellationToken,
            ("table", $"{schema}.{TableName}")) as string[];
        var with = settings is { Length: > 0 } ? $" with ({string.Join(", ", settings)})" : "";
        await ExecuteAsync(control, $"create table {schema}.{WorkTableName} (like {schema}.{TableName} including all excluding indexes){with}", cancellationToken);
        var prepared = watch.Elapsed;
        var (events, documents) = await FoldAndCopyAsync(builder.ConnectionString, ceiling, cancellationToken);
        var copied = watch.Elapsed;
        foreach (var index in indexes) await ExecuteAsync(control, index.CreateOnWorkTable(schema), cancellationToken);
        await ExecuteAsync(control, $"analyze {schema}.{WorkTableName}", cancellationToken);
        var indexed = watch.Elapsed;

        if (BeforeSwap is { } beforeSwap) await beforeSwap();
        await SwapAsync(control, indexes, ceiling, cancellationToken);

        // The schedule follows the views (a rebuild writes no schedule rows of its own). Outside the swap, so readers
        // of the views wait only for the renames; the daemon resumes after this (ModelChangeRebuild runs before it).
        await ExecuteAsync(control, AfterRebuildSql(schema), cancellationToken);
        await ExecuteAsync(control, "select pg_advisory_unlock(hashtext(@key))", cancellationToken,
            ("key", $"{schema}.{LeadScoreProjection.ProjectionName}.stream-ordered-rebuild"));
        return new StreamOrderedRebuildResult(ceiling, events, documents, watch.Elapsed)
        {
            Phases = $"prepare {prepared.TotalSeconds:0.0}s, read+fold+COPY {(copied - prepared).TotalSeconds:0.0}s, " +
                     $"indexes {(indexed - copied).TotalSeconds:0.0}s, swap+schedule {(watch.Elapsed - indexed).TotalSeconds:0.0}s",
        };
    }

    /// <summary>
    /// Reader: events up to the ceiling in (stream, version) order (<see cref="StreamOrderedEvents"/>). Folder (another
    /// task): one stream at a time through Evolve, each finished view COPYed into the work table.
    /// </summary>
    private Task<(long Events, long Documents)> FoldAndCopyAsync(string connection, long ceiling, CancellationToken cancellationToken) =>
        // Headers are not read: Evolve uses them only for the trace parent of pending lifecycle messages, which a rebuild
        // discards.
        StreamOrderedEvents.ReadAsync(store, connection, schema, after: 0, upTo: ceiling, headers: false,
            (input, cancel) => FoldAsync(connection, input, cancel), cancellationToken);

    private async Task<long> FoldAsync(string connection, ChannelReader<List<IEvent>> input, CancellationToken cancellationToken)
    {
        var projection = new LeadScoreProjection(model, schema);
        var serializer = store.Options.Serializer();
        var dotnetType = typeof(LeadScoreView).FullName!;
        var modified = DateTimeOffset.UtcNow;
        await using var writer = new NpgsqlConnection(connection);
        await writer.OpenAsync(cancellationToken);
        long documents = 0;
        // COPY FREEZE: the rows are written frozen and their pages marked all-visible, so the table needs no vacuum pass
        // of its own once it is live. Without it autovacuum read and wrote the whole table right after the swap, beside
        // the live traffic (8.8 s, 240 MB, at 1M events / 100k leads). FREEZE needs the table truncated (or created) in
        // the COPY's own transaction.
        await using var transaction = await writer.BeginTransactionAsync(cancellationToken);
        await using (var truncate = new NpgsqlCommand($"truncate {schema}.{WorkTableName}", writer, transaction))
        {
            await truncate.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var copy = await writer.BeginBinaryImportAsync(
                         $"copy {schema}.{WorkTableName} ({string.Join(", ", Columns)}) from stdin (format binary, freeze)", cancellationToken))
        {
            string? stream = null;
            LeadScoreView? view = null;
            long version = 0;
            await foreach (var chunk in input.ReadAllAsync(cancellationToken))
            {
                foreach (var e in chunk)
                {
                    if (e.StreamKey != stream)
                    {
                        if (view is not null)
                        {
                            await WriteAsync(view);
                            if (documents == 1 && WhileCopying is { } whileCopying) await whileCopying();
                        }

                        stream = e.StreamKey;
                        view = null;
                    }

                    view = projection.Evolve(view, stream!, e);
                    version = e.Version;
                    // No side effects in a rebuild: what Evolve queued for the side-effect step is dropped at once.
                    view?.Pending.Clear();
                }
            }

            if (view is not null) await WriteAsync(view);
            await copy.CompleteAsync(cancellationToken);

            async Task WriteAsync(LeadScoreView v)
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(v.Id, NpgsqlDbType.Varchar, cancellationToken);
                await copy.WriteAsync(serializer.ToJson(v), NpgsqlDbType.Jsonb, cancellationToken);
                await copy.WriteAsync(modified, NpgsqlDbType.TimestampTz, cancellationToken);
                await copy.WriteAsync(dotnetType, NpgsqlDbType.Varchar, cancellationToken);
                // Marten keeps a projected document's revision numeric: the version of the stream's last event it applied.
                await copy.WriteAsync(version, NpgsqlDbType.Bigint, cancellationToken);
                // Duplicated fields as Marten writes them (enums as their names, see EnumStorage.AsString).
                await copy.WriteAsync(v.Stage.ToString(), NpgsqlDbType.Varchar, cancellationToken);
                await copy.WriteAsync(v.Tier.ToString(), NpgsqlDbType.Varchar, cancellationToken);
                await WriteNullableAsync(copy, v.MqlEnteredAt, cancellationToken);
                await WriteNullableAsync(copy, v.SlaDueAt, cancellationToken);
                await copy.WriteAsync(v.LastSequence, NpgsqlDbType.Bigint, cancellationToken);
                documents++;
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return documents;
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter copy, DateTimeOffset? value, CancellationToken cancellationToken) =>
        value is { } v ? copy.WriteAsync(v, NpgsqlDbType.TimestampTz, cancellationToken) : copy.WriteNullAsync(cancellationToken);

    /// <summary>
    /// One short transaction: the old table goes, the work table and its indexes take its names (Marten's schema check
    /// at the next start finds what it expects), the progression moves to the ceiling, readers are told to reset.
    /// The exclusive lock waits for queries in flight on the old views, briefly, and is retried rather than queued long.
    /// </summary>
    private async Task SwapAsync(NpgsqlConnection control, IReadOnlyList<LiveIndex> indexes, long ceiling, CancellationToken cancellationToken)
    {
        var renames = string.Concat(indexes.Select(i => i.RenameOnSwap(schema)));
        var sql =
            "begin; set local lock_timeout = '2s'; " +
            $"lock table {schema}.{TableName} in access exclusive mode; " +
            $"drop table {schema}.{TableName}; " +
            $"alter table {schema}.{WorkTableName} rename to {TableName}; " +
            renames +
            $"insert into {schema}.mt_event_progression (name, last_seq_id, last_updated) values (@name, @ceiling, transaction_timestamp()) " +
            "on conflict (name) do update set last_seq_id = excluded.last_seq_id, last_updated = excluded.last_updated; " +
            "commit;";
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ExecuteAsync(control, sql, cancellationToken,
                    ("name", $"{LeadScoreProjection.ProjectionName}:All"), ("ceiling", ceiling));
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable && attempt < 10)
            {
                await ExecuteAsync(control, "rollback", cancellationToken);
            }
        }
    }

    /// <summary>The live table's indexes (the primary key among them), to build the same ones on the work table.</summary>
    private async Task<IReadOnlyList<LiveIndex>> LiveIndexesAsync(NpgsqlConnection control, CancellationToken cancellationToken)
    {
        var columns = new List<string>();
        await using (var command = new NpgsqlCommand(
                         "select column_name from information_schema.columns where table_schema = @schema and table_name = @table order by ordinal_position", control))
        {
            command.Parameters.AddWithValue("schema", schema);
            command.Parameters.AddWithValue("table", TableName);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) columns.Add(reader.GetString(0));
        }

        if (!columns.SequenceEqual(Columns))
        {
            throw new NotSupportedException(
                $"{schema}.{TableName} has columns ({string.Join(", ", columns)}), the stream-ordered rebuild writes ({string.Join(", ", Columns)})");
        }

        var indexes = new List<LiveIndex>();
        await using (var command = new NpgsqlCommand(
                         "select i.relname, pg_get_indexdef(x.indexrelid), c.conname, pg_get_constraintdef(c.oid) " +
                         "from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid " +
                         "join pg_namespace n on n.oid = t.relnamespace left join pg_constraint c on c.conindid = x.indexrelid and c.conrelid = t.oid " +
                         "where n.nspname = @schema and t.relname = @table order by i.relname", control))
        {
            command.Parameters.AddWithValue("schema", schema);
            command.Parameters.AddWithValue("table", TableName);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                indexes.Add(new LiveIndex(reader.GetString(0), reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), indexes.Count));
            }
        }

        return indexes;
    }

    /// <summary>An index of the live table: built on the work table under a temporary name, renamed at the swap.</summary>
    private sealed record LiveIndex(string Name, string Definition, string? Constraint, string? ConstraintDefinition, int Ordinal)
    {
        private string TemporaryName => $"{WorkTableName}_ix{Ordinal}";

        public string CreateOnWorkTable(string schema)
        {
            if (Constraint is not null)
            {
                return $"alter table {schema}.{WorkTableName} add constraint {TemporaryName} {ConstraintDefinition}";
            }

            var live = $" INDEX {Name} ON {schema}.{TableName} ";
            if (!Definition.Contains(live, StringComparison.Ordinal))
            {
                throw new NotSupportedException($"unexpected index definition on {schema}.{TableName}: {Definition}");
            }

            return Definition.Replace(live, $" INDEX {TemporaryName} ON {schema}.{WorkTableName} ", StringComparison.Ordinal);
        }

        public string RenameOnSwap(string schema) => Constraint is not null
            // Renaming the constraint renames its index too.
            ? $"alter table {schema}.{TableName} rename constraint {TemporaryName} to {Constraint}; "
            : $"alter index {schema}.{TemporaryName} rename to {Name}; ";
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}

/// <summary>What a stream-ordered rebuild did: the sequence it rebuilt up to, events folded, views written, time taken.</summary>
public sealed record StreamOrderedRebuildResult(long Ceiling, long Events, long Documents, TimeSpan Elapsed)
{
    /// <summary>Where the time went, for logs and the bench.</summary>
    public string Phases { get; init; } = "";
}
