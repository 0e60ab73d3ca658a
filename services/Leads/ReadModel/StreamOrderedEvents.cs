using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using JasperFx.Events;
using Marten;
using Npgsql;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// The read side shared by <see cref="StreamOrderedRebuild"/> and <see cref="StreamOrderedCatchUp"/>: one query over the
/// event store in (stream, version) order, each row deserialised with the store's serializer into Marten's event
/// wrapper, handed to a consumer task in small chunks through a bounded channel (memory holds a bounded read-ahead).
/// Within a stream, versions follow sequence (both are assigned under the stream row's lock), so a stream's events
/// arrive in the order Marten's daemon applies them. Archived events are skipped, as the daemon does.
/// </summary>
internal static class StreamOrderedEvents
{
    private const int ReadAheadChunk = 256;

    /// <summary>
    /// Reads the events whose sequence is in (<paramref name="after"/>, <paramref name="upTo"/>] on a connection of its
    /// own, while <paramref name="consume"/> runs on another task; returns the number read and what the consumer returned.
    /// The first exception of either side is the one thrown (the other side is cancelled).
    /// </summary>
    /// <param name="headers">Whether to read the events' headers (the trace parent of lifecycle messages); a rebuild,
    /// which publishes nothing, skips them.</param>
    public static async Task<(long Events, T Result)> ReadAsync<T>(IDocumentStore store, string connectionString, string schema,
        long after, long upTo, bool headers, Func<ChannelReader<List<IEvent>>, CancellationToken, Task<T>> consume,
        CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<List<IEvent>>(new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true });
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consuming = Task.Run(async () =>
        {
            try
            {
                return await consume(channel.Reader, cancel.Token);
            }
            catch
            {
                // The reader may be waiting for room in the channel: stop it.
                await cancel.CancelAsync();
                throw;
            }
        }, cancel.Token);
        long events = 0;
        try
        {
            var serializer = store.Options.Serializer();
            var graph = ((DocumentStore)store).Events;
            var mappings = graph.AllKnownEventTypes().ToDictionary(t => t.EventTypeName, t => graph.EventMappingFor(t.EventType));
            await using var reader = new NpgsqlConnection(connectionString);
            await reader.OpenAsync(cancel.Token);
            // The ordered read sorts the events on the server: room for it in memory rather than on disk (this session only).
            await using (var workMem = new NpgsqlCommand("set work_mem = '64MB'", reader)) await workMem.ExecuteNonQueryAsync(cancel.Token);
            await using var command = new NpgsqlCommand(
                $"select seq_id, id, stream_id, version, type, timestamp, data{(headers ? ", headers" : "")} from {schema}.mt_events " +
                "where seq_id > @after and seq_id <= @upTo and is_archived = false order by stream_id, version", reader);
            command.Parameters.AddWithValue("after", after);
            command.Parameters.AddWithValue("upTo", upTo);
            await using var rows = await command.ExecuteReaderAsync(cancel.Token);
            var chunk = new List<IEvent>(ReadAheadChunk);
            while (await rows.ReadAsync(cancel.Token))
            {
                var type = rows.GetString(4);
                if (!mappings.TryGetValue(type, out var mapping))
                {
                    throw new InvalidOperationException($"event type '{type}' (sequence {rows.GetInt64(0)}) is not registered with the store");
                }

                var e = mapping.Wrap(serializer.FromJson(mapping.DocumentType, rows, 6));
                e.Sequence = rows.GetInt64(0);
                e.Id = rows.GetGuid(1);
                e.StreamKey = rows.GetString(2);
                e.Version = rows.GetInt64(3);
                e.Timestamp = rows.GetFieldValue<DateTimeOffset>(5);
                // As Marten reads them (HeadersColumn): a JSON object into a dictionary, null when there are none.
                if (headers && !rows.IsDBNull(7)) e.Headers = serializer.FromJson<Dictionary<string, object>>(rows, 7);
                chunk.Add(e);
                events++;
                if (chunk.Count == ReadAheadChunk)
                {
                    await channel.Writer.WriteAsync(chunk, cancel.Token);
                    chunk = new List<IEvent>(ReadAheadChunk);
                }
            }

            if (chunk.Count > 0) await channel.Writer.WriteAsync(chunk, cancel.Token);
            channel.Writer.Complete();
        }
        catch (Exception ex)
        {
            channel.Writer.TryComplete(ex);
            await cancel.CancelAsync();
            Exception? consumerFailure = null;
            try
            {
                await consuming;
            }
            catch (Exception failure) when (failure is not OperationCanceledException)
            {
                consumerFailure = failure;
            }
            catch (OperationCanceledException)
            {
                // Cancelled because the reader failed (or the caller cancelled): the reader's exception is reported.
            }

            // A reader that was only cancelled because the consumer failed reports the consumer's exception.
            if (ex is OperationCanceledException && consumerFailure is not null && !cancellationToken.IsCancellationRequested)
            {
                ExceptionDispatchInfo.Throw(consumerFailure);
            }

            throw;
        }

        return (events, await consuming);
    }
}
