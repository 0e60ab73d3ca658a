using System.Diagnostics;
using JasperFx;
using Marten;
using Npgsql;
using NpgsqlTypes;
using ScoringPlatform.Contracts;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Scoring;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>The raw baselines for ingest, measured in the same run on the same PostgreSQL.</summary>
internal static class Baselines
{
    /// <summary>Npgsql binary COPY of rows equivalent to the events into a plain table: the ceiling for writing them.</summary>
    public static async Task<double> BinaryCopyAsync(string connectionString, IReadOnlyList<(string Key, byte[] Value, EngagementEvent Event)> events)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await Exec(connection, "drop schema if exists bench_raw cascade; create schema bench_raw; " +
            "create table bench_raw.events(id uuid primary key, stream_id text not null, type text not null, data jsonb not null, occurred_at timestamptz not null)");
        var watch = Stopwatch.StartNew();
        await using (var writer = await connection.BeginBinaryImportAsync("copy bench_raw.events (id, stream_id, type, data, occurred_at) from stdin (format binary)"))
        {
            foreach (var (key, value, evt) in events)
            {
                await writer.StartRowAsync();
                await writer.WriteAsync(EventIds.FromSourceId(evt.Id), NpgsqlDbType.Uuid);
                await writer.WriteAsync(key, NpgsqlDbType.Text);
                await writer.WriteAsync(evt.Type, NpgsqlDbType.Text);
                await writer.WriteAsync(System.Text.Encoding.UTF8.GetString(value), NpgsqlDbType.Jsonb);
                await writer.WriteAsync(evt.OccurredAt, NpgsqlDbType.TimestampTz);
            }

            await writer.CompleteAsync();
        }

        return events.Count / watch.Elapsed.TotalSeconds;
    }

    /// <summary>Marten's own append of the same events (same store configuration as the platform), batches of 1,000.</summary>
    public static async Task<double> MartenAppendAsync(string connectionString, IReadOnlyList<(string Key, byte[] Value, EngagementEvent Event)> events)
    {
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await Exec(connection, "drop schema if exists bench_marten cascade");
        }

        using var store = DocumentStore.For(o =>
        {
            LeadEventStore.Configure(o, connectionString, "bench_marten", ScoringModel.Default);
            o.AutoCreateSchemaObjects = AutoCreate.All;
        });
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var watch = Stopwatch.StartNew();
        foreach (var chunk in events.Chunk(1_000))
        {
            await using var session = store.LightweightSession();
            foreach (var stream in chunk.GroupBy(e => e.Key))
            {
                var items = stream.ToArray();
                var action = session.Events.Append(stream.Key, items.Select(e => EngagementMapper.ToDomainEvent(e.Event)).ToArray());
                for (var i = 0; i < items.Length; i++) action.Events[i].Id = EventIds.FromSourceId(items[i].Event.Id);
            }

            await session.SaveChangesAsync();
        }

        return events.Count / watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Npgsql binary COPY of the same events straight into Marten's own <c>mt_events</c> (fresh schema, with its unique
    /// indexes and the foreign key to <c>mt_streams</c>, whose rows are copied first): the honest ceiling for an append,
    /// since every append path has to pay for that table.
    /// </summary>
    /// <returns>Rows per second, and the CPU PostgreSQL used per row meanwhile (all its processes, in microseconds).</returns>
    public static async Task<(double Rate, double PostgresMicrosPerRow)> CopyIntoMartenEventsAsync(string connectionString, IReadOnlyList<(string Key, byte[] Value, EngagementEvent Event)> events)
    {
        var rows = await EventRows.PrepareAsync(connectionString, "bench_mtcopy", events);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var postgresBefore = Platform.PostgresCpuSeconds();
        var watch = Stopwatch.StartNew();
        await using var transaction = await connection.BeginTransactionAsync();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (key, _, _) in events) versions[key] = versions.GetValueOrDefault(key) + 1;
        await using (var streams = await connection.BeginBinaryImportAsync($"copy {rows.Schema}.mt_streams (id, version, timestamp, tenant_id) from stdin (format binary)"))
        {
            foreach (var (key, count) in versions)
            {
                await streams.StartRowAsync();
                await streams.WriteAsync(key, NpgsqlDbType.Varchar);
                await streams.WriteAsync(count, NpgsqlDbType.Bigint);
                await streams.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await streams.WriteAsync("*DEFAULT*", NpgsqlDbType.Varchar);
            }

            await streams.CompleteAsync();
        }

        versions.Clear();
        var numbered = new List<(int Index, long Seq, long Version)>(events.Count);
        for (var i = 0; i < events.Count; i++) numbered.Add((i, i + 1, versions[events[i].Key] = versions.GetValueOrDefault(events[i].Key) + 1));
        await rows.CopyAsync(connection, numbered);

        await transaction.CommitAsync();
        return (events.Count / watch.Elapsed.TotalSeconds, (Platform.PostgresCpuSeconds() - postgresBefore) * 1e6 / events.Count);
    }

    /// <summary>
    /// The same COPY into <c>mt_events</c>, but cut the way the Ingestion service commits: batches of
    /// <paramref name="batchSize"/> events split by lead over <paramref name="lanes"/> connections (the service's
    /// <c>MaxBatchSize</c> and <c>AppendConcurrency</c>, the same hash), each lane one transaction that upserts its
    /// streams' rows to their new versions and copies its events, the next batch once every lane has committed. It leaves
    /// out only what the idempotent append adds: the probe for stored ids, the versions read back from the locked stream
    /// rows, the sequence. So it separates what the commits and the stream rows cost from the append's own work.
    /// </summary>
    /// <returns>Rows per second, and the CPU PostgreSQL used per row meanwhile (all its processes, in microseconds).</returns>
    public static async Task<(double Rate, double PostgresMicrosPerRow)> CopyIntoMartenEventsInBatchesAsync(
        string connectionString, IReadOnlyList<(string Key, byte[] Value, EngagementEvent Event)> events, int batchSize, int lanes)
    {
        var rows = await EventRows.PrepareAsync(connectionString, "bench_mtcopyb", events);
        var connections = new NpgsqlConnection[lanes];
        for (var lane = 0; lane < lanes; lane++)
        {
            connections[lane] = new NpgsqlConnection(connectionString);
            await connections[lane].OpenAsync();
        }

        try
        {
            var postgresBefore = Platform.PostgresCpuSeconds();
            var watch = Stopwatch.StartNew();
            var versions = new Dictionary<string, long>(StringComparer.Ordinal);
            long seq = 0;
            for (var start = 0; start < events.Count; start += batchSize)
            {
                var parts = new List<(int Index, long Seq, long Version)>[lanes];
                for (var lane = 0; lane < lanes; lane++) parts[lane] = [];
                for (var i = start; i < Math.Min(start + batchSize, events.Count); i++)
                {
                    var key = events[i].Key;
                    parts[(int)((uint)StringComparer.Ordinal.GetHashCode(key) % (uint)lanes)].Add((i, ++seq, versions[key] = versions.GetValueOrDefault(key) + 1));
                }

                await Task.WhenAll(parts.Select((part, lane) => CommitLaneAsync(connections[lane], part)));
            }

            return (events.Count / watch.Elapsed.TotalSeconds, (Platform.PostgresCpuSeconds() - postgresBefore) * 1e6 / events.Count);
        }
        finally
        {
            foreach (var connection in connections) await connection.DisposeAsync();
        }

        async Task CommitLaneAsync(NpgsqlConnection connection, List<(int Index, long Seq, long Version)> part)
        {
            if (part.Count == 0) return;
            await using var transaction = await connection.BeginTransactionAsync();
            // Each stream's row at its version after this batch, created or bumped, locked in id order as the append does.
            var streams = part.GroupBy(r => events[r.Index].Key).Select(g => (Id: g.Key, Version: g.Max(r => r.Version))).OrderBy(s => s.Id, StringComparer.Ordinal).ToList();
            await using (var upsert = new NpgsqlCommand(
                $"insert into {rows.Schema}.mt_streams as m (id, type, version, timestamp, tenant_id) " +
                "select s.id, null, s.version, now(), '*DEFAULT*' from unnest(@ids, @versions) with ordinality as s(id, version, ord) order by s.ord " +
                "on conflict (id) do update set version = excluded.version, timestamp = now()", connection, transaction))
            {
                upsert.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Varchar, streams.Select(s => s.Id).ToArray());
                upsert.Parameters.AddWithValue("versions", NpgsqlDbType.Array | NpgsqlDbType.Bigint, streams.Select(s => s.Version).ToArray());
                await upsert.ExecuteNonQueryAsync();
            }

            await rows.CopyAsync(connection, part);
            await transaction.CommitAsync();
        }
    }

    /// <summary>A fresh Marten event store schema and the events' rows for it (JSON and type names as Marten writes them).</summary>
    private sealed class EventRows
    {
        private readonly IReadOnlyList<(string Key, byte[] Value, EngagementEvent Event)> _events;
        private readonly List<string> _json;
        private readonly List<(string Name, string DotNetName)> _types;

        private EventRows(string schema, IReadOnlyList<(string Key, byte[] Value, EngagementEvent Event)> events, List<string> json, List<(string, string)> types) =>
            (Schema, _events, _json, _types) = (schema, events, json, types);

        public string Schema { get; }

        public static async Task<EventRows> PrepareAsync(string connectionString, string schema, IReadOnlyList<(string Key, byte[] Value, EngagementEvent Event)> events)
        {
            await using (var reset = new NpgsqlConnection(connectionString))
            {
                await reset.OpenAsync();
                await Exec(reset, $"drop schema if exists {schema} cascade");
            }

            using var store = DocumentStore.For(o =>
            {
                LeadEventStore.Configure(o, connectionString, schema, ScoringModel.Default);
                o.AutoCreateSchemaObjects = AutoCreate.All;
            });
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            var serializer = store.Options.Serializer();
            var types = ((IDocumentStore)store).Options.Events.AllKnownEventTypes().ToDictionary(t => t.EventType);
            var domain = events.Select(e => EngagementMapper.ToDomainEvent(e.Event)).ToList();
            return new EventRows(schema, events, domain.Select(serializer.ToJson).ToList(),
                domain.Select(e => types[e.GetType()]).Select(t => (t.EventTypeName, t.DotNetTypeName)).ToList());
        }

        /// <summary>One binary COPY of the given events (by index) with their sequence numbers and versions.</summary>
        public async Task CopyAsync(NpgsqlConnection connection, IEnumerable<(int Index, long Seq, long Version)> rows)
        {
            await using var writer = await connection.BeginBinaryImportAsync(
                $"copy {Schema}.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, is_archived) from stdin (format binary)");
            foreach (var (i, seq, version) in rows)
            {
                await writer.StartRowAsync();
                await writer.WriteAsync(seq, NpgsqlDbType.Bigint);
                await writer.WriteAsync(EventIds.FromSourceId(_events[i].Event.Id), NpgsqlDbType.Uuid);
                await writer.WriteAsync(_events[i].Key, NpgsqlDbType.Varchar);
                await writer.WriteAsync(version, NpgsqlDbType.Bigint);
                await writer.WriteAsync(_json[i], NpgsqlDbType.Jsonb);
                await writer.WriteAsync(_types[i].Name, NpgsqlDbType.Varchar);
                await writer.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync("*DEFAULT*", NpgsqlDbType.Varchar);
                await writer.WriteAsync(_types[i].DotNetName, NpgsqlDbType.Varchar);
                await writer.WriteAsync(false, NpgsqlDbType.Boolean);
            }

            await writer.CompleteAsync();
        }
    }

    private static async Task Exec(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
