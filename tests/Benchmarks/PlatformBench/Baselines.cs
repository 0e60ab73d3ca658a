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
        const string schema = "bench_mtcopy";
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
        var rows = events.Select(e => EngagementMapper.ToDomainEvent(e.Event)).ToList();
        var json = rows.Select(serializer.ToJson).ToList();

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var postgresBefore = Platform.PostgresCpuSeconds();
        var watch = Stopwatch.StartNew();
        await using var transaction = await connection.BeginTransactionAsync();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (key, _, _) in events) versions[key] = versions.GetValueOrDefault(key) + 1;
        await using (var streams = await connection.BeginBinaryImportAsync($"copy {schema}.mt_streams (id, version, timestamp, tenant_id) from stdin (format binary)"))
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
        await using (var writer = await connection.BeginBinaryImportAsync(
            $"copy {schema}.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, is_archived) from stdin (format binary)"))
        {
            for (var i = 0; i < events.Count; i++)
            {
                var key = events[i].Key;
                var version = versions[key] = versions.GetValueOrDefault(key) + 1;
                var type = types[rows[i].GetType()];
                await writer.StartRowAsync();
                await writer.WriteAsync((long)i + 1, NpgsqlDbType.Bigint);
                await writer.WriteAsync(EventIds.FromSourceId(events[i].Event.Id), NpgsqlDbType.Uuid);
                await writer.WriteAsync(key, NpgsqlDbType.Varchar);
                await writer.WriteAsync(version, NpgsqlDbType.Bigint);
                await writer.WriteAsync(json[i], NpgsqlDbType.Jsonb);
                await writer.WriteAsync(type.EventTypeName, NpgsqlDbType.Varchar);
                await writer.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync("*DEFAULT*", NpgsqlDbType.Varchar);
                await writer.WriteAsync(type.DotNetTypeName, NpgsqlDbType.Varchar);
                await writer.WriteAsync(false, NpgsqlDbType.Boolean);
            }

            await writer.CompleteAsync();
        }

        await transaction.CommitAsync();
        return (events.Count / watch.Elapsed.TotalSeconds, (Platform.PostgresCpuSeconds() - postgresBefore) * 1e6 / events.Count);
    }

    private static async Task Exec(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
