using System.Diagnostics;
using System.Threading.Channels;
using JasperFx.Events;
using Marten;
using Marten.Services;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScoringPlatform.Scoring;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// Brings the live LeadScore projection up to the store's high-water mark when it is far behind (after downtime, or
/// when it was stopped while events kept arriving), without the daemon's page-by-page work.
/// <para>
/// The daemon pages in sequence order. With events interleaved across leads, a page touches each lead about once, so a
/// lead with ten events behind is loaded, folded and written ten times. This catch-up reads the backlog, the events
/// above the projection's progression up to the high-water mark, in (stream, version) order
/// (<see cref="StreamOrderedEvents"/>). It hands whole streams to the live projection's own page step
/// (<see cref="LeadScoreLiveProjection.ApplyAsync"/>) in chunks, so each touched lead is loaded and written once.
/// The fold, the documents, the outbox rows and the schedule rows are the live projection's; a page boundary changes
/// none of them (LeadScoreLiveProjectionTests diffs this path against Marten's projection too).
/// </para>
/// <para>
/// Everything is written in one transaction, which also moves the progression from the value read at the start to
/// the ceiling, and only from that value. The ceiling is the high-water mark, or at most a round's limit past the
/// progression (a longer backlog takes several runs, each committed). A crash or a database failure anywhere before
/// the commit leaves nothing behind, and the daemon (or the next catch-up) starts from the same progression. If
/// another node's daemon moved the progression meanwhile, the transaction is rolled back and the daemon carries on:
/// no event is applied twice and no message is written twice. Readers see the old views until the commit. NOTIFYs
/// for the change feed, the outbox relay and the scheduler are delivered at the commit.
/// </para>
/// </summary>
public sealed class StreamOrderedCatchUp(IDocumentStore store, ScoringModel model, string schema, string connectionString, ILogger? logger = null)
{
    /// <summary>Backlog (events) from which a catch-up is worth more than the daemon's pages; below it the daemon runs.</summary>
    public const long DefaultThreshold = 50_000;

    /// <summary>
    /// Most sequence numbers one run covers (one transaction): a longer backlog is caught up in several runs, each
    /// committed, so a process killed mid-way (an orchestrator's probe, a deploy) keeps what the earlier runs did.
    /// </summary>
    public const long DefaultRoundLimit = 1_000_000;

    /// <summary>
    /// Events per call of the live projection's page step (whole streams only, so a chunk can run over by one
    /// stream): one load query and one statement per table for each chunk.
    /// </summary>
    private const int ChunkEvents = 8_000;

    /// <summary>Test hook: runs after every view, outbox and schedule row is written, before the progression moves and the commit.</summary>
    public Func<Task>? BeforeCommit { get; init; }

    /// <summary>
    /// Catches up when the backlog is at least <paramref name="threshold"/> events, up to the high-water mark or
    /// <paramref name="roundLimit"/> sequence numbers past the progression, whichever is lower: returns what it did, or
    /// what it found (<see cref="StreamOrderedCatchUpResult.Outcome"/>) when there was nothing to do or another node
    /// moved first.
    /// </summary>
    public async Task<StreamOrderedCatchUpResult> RunAsync(long threshold, CancellationToken cancellationToken, long roundLimit = DefaultRoundLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(roundLimit, 1);
        var watch = Stopwatch.StartNew();
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, CommandTimeout = 0 };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var name = $"{LeadScoreProjection.ProjectionName}:All";

        long from;
        await using (var progress = new NpgsqlCommand($"select coalesce(max(last_seq_id), 0) from {schema}.mt_event_progression where name = @name", connection))
        {
            progress.Parameters.AddWithValue("name", name);
            from = (long)(await progress.ExecuteScalarAsync(cancellationToken))!;
        }

        // Marten's own high-water detection, run once: every sequence up to it is committed (or a gap Marten skips).
        long highWater;
        using (var daemon = await store.BuildProjectionDaemonAsync())
        {
            await daemon.PrepareForRebuildsAsync();
            highWater = daemon.HighWaterMark();
        }

        if (highWater - from < Math.Max(threshold, 1))
        {
            return new StreamOrderedCatchUpResult(CatchUpOutcome.NotBehind, from, from, highWater, 0, 0, watch.Elapsed);
        }

        // Every sequence up to the high-water mark is settled, so any ceiling below it is too.
        var ceiling = Math.Min(highWater, from + roundLimit);

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var projection = new LeadScoreLiveProjection(model, schema, logger);
        var (events, leads) = await StreamOrderedEvents.ReadAsync(store, builder.ConnectionString, schema, from, ceiling, headers: true,
            (input, cancel) => ApplyAsync(projection, transaction, input, cancel), cancellationToken);

        if (BeforeCommit is { } beforeCommit) await beforeCommit();
        int moved;
        await using (var advance = new NpgsqlCommand(
                         $"insert into {schema}.mt_event_progression (name, last_seq_id, last_updated) values (@name, @ceiling, transaction_timestamp()) " +
                         "on conflict (name) do update set last_seq_id = excluded.last_seq_id, last_updated = excluded.last_updated " +
                         $"where {schema}.mt_event_progression.last_seq_id = @from", connection, transaction))
        {
            advance.Parameters.AddWithValue("name", name);
            advance.Parameters.AddWithValue("ceiling", ceiling);
            advance.Parameters.AddWithValue("from", from);
            moved = await advance.ExecuteNonQueryAsync(cancellationToken);
        }

        if (moved != 1)
        {
            await transaction.RollbackAsync(cancellationToken);
            return new StreamOrderedCatchUpResult(CatchUpOutcome.Overtaken, from, ceiling, highWater, events, leads, watch.Elapsed);
        }

        await transaction.CommitAsync(cancellationToken);
        return new StreamOrderedCatchUpResult(CatchUpOutcome.CaughtUp, from, ceiling, highWater, events, leads, watch.Elapsed);
    }

    /// <summary>Whole streams, about <see cref="ChunkEvents"/> events at a time, through the live projection's page step in the transaction.</summary>
    private async Task<long> ApplyAsync(LeadScoreLiveProjection projection, NpgsqlTransaction transaction, ChannelReader<List<IEvent>> input,
        CancellationToken cancellationToken)
    {
        long leads = 0;
        var chunk = new List<IEvent>(ChunkEvents + 256);
        string? stream = null;
        await foreach (var part in input.ReadAllAsync(cancellationToken))
        {
            foreach (var e in part)
            {
                if (e.StreamKey != stream)
                {
                    if (chunk.Count >= ChunkEvents)
                    {
                        await ApplyChunkAsync(chunk);
                        chunk.Clear();
                    }

                    stream = e.StreamKey;
                    leads++;
                }

                chunk.Add(e);
            }
        }

        if (chunk.Count > 0) await ApplyChunkAsync(chunk);
        return leads;

        async Task ApplyChunkAsync(List<IEvent> events)
        {
            // A session in the catch-up's transaction: SaveChanges sends the queued statements and does not commit.
            await using var session = store.LightweightSession(SessionOptions.ForTransaction(transaction));
            await projection.ApplyAsync(session, events, cancellationToken);
            await session.SaveChangesAsync(cancellationToken);
        }
    }
}

/// <summary>What a catch-up found or did.</summary>
public enum CatchUpOutcome
{
    /// <summary>The backlog was under the threshold: nothing written.</summary>
    NotBehind,

    /// <summary>Another writer moved the progression while the catch-up ran: rolled back, nothing written.</summary>
    Overtaken,

    /// <summary>The views, outbox and schedule are written and the progression is at the ceiling (the high-water mark, or the round's limit below it).</summary>
    CaughtUp,
}

/// <summary>
/// A catch-up's outcome: the progression it started from, the ceiling it caught up to, the high-water mark it found,
/// events read, leads touched, time taken.
/// </summary>
public sealed record StreamOrderedCatchUpResult(CatchUpOutcome Outcome, long From, long Ceiling, long HighWater, long Events, long Leads, TimeSpan Elapsed)
{
    /// <summary>Sequence numbers between the progression and the high-water mark when the run started.</summary>
    public long Backlog => HighWater - From;
}
