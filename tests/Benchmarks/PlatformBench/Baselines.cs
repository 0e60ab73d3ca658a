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

    private static async Task Exec(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
