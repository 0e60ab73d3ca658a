using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using JasperFx.Events;
using Marten;
using Npgsql;
using NpgsqlTypes;
using ScoringPlatform.Leads.EventStore;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>One event of a set-based append, in the order it is to be stored.</summary>
internal readonly record struct EventRow(string Stream, Guid Id, object Data, string? TraceParent);

/// <summary>
/// Appends the events of one transaction, over any number of streams, in ONE statement that writes the rows
/// Marten's quick append (<c>mt_quick_append_events</c>, once per stream) writes: ids already stored are skipped
/// (the unique index on event ids stays the guarantee), the stream rows are created or bumped in stream-id order with
/// <c>INSERT … ON CONFLICT DO UPDATE … RETURNING</c> (so the versions come from the locked rows), and the events get
/// <c>nextval</c> of Marten's sequence in input order. The caller holds the identity locks of every stream, so no other
/// ingestion writer stores the same ids meanwhile and no duplicate race burns sequence numbers. The daemon's NOTIFY is
/// queued on the session (<see cref="Notify"/>) and goes out with the commit, as Marten's own does.
/// <see cref="CopyAsync"/> writes the same rows in two steps (the probe, the stream rows and the numbering in one
/// statement, then the events by binary COPY).
/// </summary>
/// <remarks>
/// Lock order: Marten's function reads a stream's version unlocked, inserts its events, then updates the stream row, so
/// run at once on one stream with this statement it would collide (a duplicate version, or a deadlock), and the side
/// rolled back would leave a gap in the event sequence. Every writer of lead streams therefore takes the identity
/// advisory locks first (ingestion, the Api's feedback recorder, the lifecycle scheduler's clock ticks), in ascending
/// order, so they take turns per stream; taking the rows in stream-id order keeps set-based writers from ever
/// deadlocking each other.
/// </remarks>
internal static class SetBasedAppend
{
    /// <summary>
    /// Marten's wake-up for the async daemon: its <c>NotifyEventAppendedOperation</c> runs
    /// <c>pg_notify('mt_events_appended', '')</c>, which is this statement (an empty payload), written without the
    /// <c>;</c> that <see cref="IDocumentOperations.QueueSqlCommand(string, object[])"/> refuses.
    /// </summary>
    public const string Notify = "notify mt_events_appended";

    private const string Tenant = "*DEFAULT*";

    private static readonly ConcurrentDictionary<string, string> Statements = new(StringComparer.Ordinal);

    /// <summary>The statement for <paramref name="schema"/>; it returns the ids it stored.</summary>
    public static string Sql(string schema) => Statements.GetOrAdd(schema, static s => $"""
        with input as (
            select i.id, i.stream_id, i.type, i.dotnet_type, i.data, i.headers, i.ord
            from unnest(@ids, @streams, @types, @dotnet_types, @bodies, @headers)
                with ordinality as i(id, stream_id, type, dotnet_type, data, headers, ord)
        ),
        fresh as materialized (
            select i.*, row_number() over (partition by i.stream_id order by i.ord) as n
            from input i
            where not exists (select 1 from {s}.mt_events e where e.id = i.id)
        ),
        counts as (
            select stream_id, count(*) as appended from fresh group by stream_id
        ),
        bumped as (
            insert into {s}.mt_streams as m (id, type, version, timestamp, tenant_id)
            select c.stream_id, null, c.appended, now(), '{Tenant}' from counts c order by c.stream_id
            on conflict (id) do update set version = m.version + excluded.version, timestamp = now()
            returning m.id, m.version
        ),
        inserted as (
            insert into {s}.mt_events
                (seq_id, id, stream_id, version, data, bdata, type, tenant_id, timestamp, mt_dotnet_type, is_archived, headers)
            select nextval('{s}.mt_events_sequence'), o.id, o.stream_id, o.version, o.data, null, o.type, '{Tenant}',
                (now() at time zone 'utc'), o.dotnet_type, false, o.headers
            from (
                select f.id, f.stream_id, b.version - c.appended + f.n as version, f.data, f.type, f.dotnet_type, f.headers
                from fresh f
                join counts c on c.stream_id = f.stream_id
                join bumped b on b.id = f.stream_id
                order by f.ord
                offset 0
            ) o
            returning id
        )
        select id from inserted
        """);

    /// <summary>
    /// The first half of <see cref="CopyAsync"/>: skips the ids already stored, bumps the stream rows by their fresh
    /// events (in stream-id order, as <see cref="Sql"/> does) and draws the fresh events' sequence numbers in input order.
    /// It returns one row per fresh event (<c>id</c>, <c>seq_id</c>), then one per stream bumped (<c>stream_id</c>, its new
    /// <c>version</c>), each with the timestamp <see cref="Sql"/> would store.
    /// </summary>
    public static string ReserveSql(string schema) => ReserveStatements.GetOrAdd(schema, static s => $"""
        with fresh as materialized (
            select i.id, i.stream_id, i.ord
            from unnest(@ids, @streams) with ordinality as i(id, stream_id, ord)
            where not exists (select 1 from {s}.mt_events e where e.id = i.id)
        ),
        bumped as (
            insert into {s}.mt_streams as m (id, type, version, timestamp, tenant_id)
            select f.stream_id, null, count(*), now(), '{Tenant}' from fresh f group by f.stream_id order by f.stream_id
            on conflict (id) do update set version = m.version + excluded.version, timestamp = now()
            returning m.id, m.version
        )
        select o.id, nextval('{s}.mt_events_sequence') as number, null::varchar as stream_id, (now() at time zone 'utc')::timestamptz
        from (select f.id from fresh f order by f.ord offset 0) o
        union all
        select null, b.version, b.id, (now() at time zone 'utc')::timestamptz from bumped b
        """);

    private static readonly ConcurrentDictionary<string, string> ReserveStatements = new(StringComparer.Ordinal);

    /// <summary>Appends <paramref name="rows"/> in the session's open transaction; returns the ids stored (the rest were already there).</summary>
    public static async Task<HashSet<Guid>> AppendAsync(IDocumentSession session, string schema, IReadOnlyList<EventRow> rows, CancellationToken ct)
    {
        var stored = new HashSet<Guid>();
        if (rows.Count == 0) return stored;

        var columns = Columns.Of(session.DocumentStore, rows);
        await using var command = new NpgsqlCommand(Sql(schema), session.Connection);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = columns.Ids });
        command.Parameters.Add(new NpgsqlParameter("streams", NpgsqlDbType.Array | NpgsqlDbType.Varchar) { Value = columns.Streams });
        command.Parameters.Add(new NpgsqlParameter("types", NpgsqlDbType.Array | NpgsqlDbType.Varchar) { Value = columns.Types });
        command.Parameters.Add(new NpgsqlParameter("dotnet_types", NpgsqlDbType.Array | NpgsqlDbType.Varchar) { Value = columns.DotNetTypes });
        command.Parameters.Add(new NpgsqlParameter("bodies", NpgsqlDbType.Array | NpgsqlDbType.Jsonb) { Value = columns.Bodies });
        command.Parameters.Add(new NpgsqlParameter("headers", NpgsqlDbType.Array | NpgsqlDbType.Jsonb) { Value = columns.Headers });
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) stored.Add(reader.GetGuid(0));
        }

        // Queued, it also makes the session's SaveChangesAsync commit (with no work queued it would not).
        if (stored.Count > 0) session.QueueSqlCommand(Notify);
        return stored;
    }

    /// <summary>
    /// The same rows as <see cref="AppendAsync"/>, written in two steps: <see cref="ReserveSql"/> (the idempotency probe,
    /// the stream rows and the sequence numbers), then a binary COPY of the fresh events with the versions that follow
    /// from the bumped stream rows. The events themselves then go through PostgreSQL's bulk-load path instead of being
    /// carried through the statement's joins and sorts.
    /// </summary>
    public static async Task<HashSet<Guid>> CopyAsync(IDocumentSession session, string schema, IReadOnlyList<EventRow> rows, CancellationToken ct)
    {
        var stored = new HashSet<Guid>();
        if (rows.Count == 0) return stored;

        var connection = session.Connection!;
        var numbers = new Dictionary<Guid, long>(rows.Count);
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var timestamp = default(DateTime);
        await using (var reserve = new NpgsqlCommand(ReserveSql(schema), connection))
        {
            reserve.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = rows.Select(r => r.Id).ToArray() });
            reserve.Parameters.Add(new NpgsqlParameter("streams", NpgsqlDbType.Array | NpgsqlDbType.Varchar) { Value = rows.Select(r => r.Stream).ToArray() });
            await using var reader = await reserve.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                if (reader.IsDBNull(0)) versions[reader.GetString(2)] = reader.GetInt64(1);
                else numbers[reader.GetGuid(0)] = reader.GetInt64(1);
                timestamp = reader.GetDateTime(3);
            }
        }

        if (numbers.Count == 0) return stored;

        // A stream's fresh events take the versions up to its bumped version, in input order.
        var fresh = rows.Where(r => numbers.ContainsKey(r.Id)).ToList();
        foreach (var row in fresh) versions[row.Stream]--;

        var columns = Columns.Of(session.DocumentStore, fresh);
        await using (var writer = await connection.BeginBinaryImportAsync(
                         $"copy {schema}.mt_events (seq_id, id, stream_id, version, data, type, tenant_id, timestamp, mt_dotnet_type, is_archived, headers) from stdin (format binary)", ct))
        {
            // Synchronous writes fill the importer's buffer and send it when full (a pool thread may wait on a full socket
            // meanwhile). The async ones cost more of the Ingestion service's CPU: 33 against 30 µs an event in one
            // PlatformBench --ingest-only run each.
            for (var i = 0; i < fresh.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                var row = fresh[i];
                writer.StartRow();
                writer.Write(numbers[row.Id], NpgsqlDbType.Bigint);
                writer.Write(row.Id, NpgsqlDbType.Uuid);
                writer.Write(row.Stream, NpgsqlDbType.Varchar);
                writer.Write(++versions[row.Stream], NpgsqlDbType.Bigint);
                writer.Write(columns.Bodies[i], NpgsqlDbType.Jsonb);
                writer.Write(columns.Types[i], NpgsqlDbType.Varchar);
                writer.Write(Tenant, NpgsqlDbType.Varchar);
                writer.Write(timestamp, NpgsqlDbType.TimestampTz);
                writer.Write(columns.DotNetTypes[i], NpgsqlDbType.Varchar);
                writer.Write(false, NpgsqlDbType.Boolean);
                writer.Write(columns.Headers[i], NpgsqlDbType.Jsonb);
                stored.Add(row.Id);
            }

            await writer.CompleteAsync(ct);
        }

        session.QueueSqlCommand(Notify);
        return stored;
    }

    /// <summary>The stored columns of a list of events, serialised as Marten serialises them.</summary>
    private sealed record Columns(Guid[] Ids, string[] Streams, string[] Types, string[] DotNetTypes, string[] Bodies, string[] Headers)
    {
        public static Columns Of(IDocumentStore store, IReadOnlyList<EventRow> rows)
        {
            var serializer = store.Options.Serializer();
            var eventTypes = EventTypes(store);
            var columns = new Columns(new Guid[rows.Count], new string[rows.Count], new string[rows.Count], new string[rows.Count],
                new string[rows.Count], new string[rows.Count]);
            for (var i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                var type = eventTypes[row.Data.GetType()];
                columns.Ids[i] = row.Id;
                columns.Streams[i] = row.Stream;
                columns.Types[i] = type.EventTypeName;
                columns.DotNetTypes[i] = type.DotNetTypeName;
                columns.Bodies[i] = serializer.ToJson(row.Data);
                // Marten stores an event without headers as the JSON null, not SQL NULL.
                columns.Headers[i] = row.TraceParent is { } traceParent ? HeadersJson(traceParent) : "null";
            }

            return columns;
        }
    }

    /// <summary>
    /// The headers of an event carrying its trace context. A W3C traceparent is lower-case hex digits and dashes, which
    /// JSON takes as they are; anything else goes through the serializer. (A dictionary serialised per event cost 0.3 µs
    /// and 384 bytes of it.)
    /// </summary>
    internal static string HeadersJson(string traceParent) =>
        traceParent.AsSpan().ContainsAnyExcept(TraceParentChars)
            ? JsonSerializer.Serialize(new Dictionary<string, string> { [EventHeaders.TraceParent] = traceParent })
            : string.Concat("{\"" + EventHeaders.TraceParent + "\":\"", traceParent, "\"}");

    private static readonly SearchValues<char> TraceParentChars = SearchValues.Create("0123456789abcdef-");

    private static readonly ConditionalWeakTable<IDocumentStore, IReadOnlyDictionary<Type, IEventType>> Mappings = new();

    private static IReadOnlyDictionary<Type, IEventType> EventTypes(IDocumentStore store) =>
        Mappings.GetValue(store, static s => s.Options.Events.AllKnownEventTypes().ToDictionary(t => t.EventType));
}
