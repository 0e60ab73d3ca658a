using System.Diagnostics;
using System.Runtime;
using JasperFx.Events;
using Marten;
using Marten.Services;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using ScoringPlatform.Scoring;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// Runs the live projection's page step on the store's newest events before the daemon starts, writing nothing, so the
/// daemon's first pages do not run cold.
/// <para>
/// A fresh process compiles each method the first time it runs, and again (optimised) once it has run often (tiered
/// compilation). On two cores that takes most of a second of each of the first ten or so seconds, and the daemon's first
/// pages took about 240 ms each instead of about 20 ms: events arriving at 1,000/s piled up behind them (docs/benchmarks.md,
/// "The services' first seconds"). Each round here runs what a page runs, in one transaction that is rolled back:
/// </para>
/// <list type="bullet">
/// <item>the newest events read through Marten's event query (the deserialisation the daemon's loader uses);</item>
/// <item>their leads' stored views loaded (the views' deserialisation);</item>
/// <item><see cref="LeadScoreLiveProjection.ApplyAsync"/> on the same events under stand-in lead ids (so no stored
/// view is locked or folded twice): the fold, the serialisation and the page's statements, sent by the session;</item>
/// <item>then the rollback: no view, outbox row, schedule row or NOTIFY is left, and no event sequence number is used
/// (outbox positions are: the relay reads by position and does not mind gaps).</item>
/// </list>
/// Rounds go on until one, with a short settle for the background recompilation, compiles fewer than
/// <see cref="QuietMethods"/> methods, or the time budget runs out. Spans and traces are suppressed meanwhile.
/// </summary>
public sealed class LeadScoreWarmUp(IDocumentStore store, ScoringModel model, string schema, string connectionString, ILogger? logger = null)
{
    /// <summary>Newest events read per round: one daemon page (<see cref="EventStore.LeadEventStore"/>'s live batch size).</summary>
    public const int RoundEvents = 2_000;

    /// <summary>A round (with its settle) that compiles fewer methods than this ends the warm-up.</summary>
    public const int QuietMethods = 25;

    /// <summary>Rounds always run, however quiet: the first rounds' calls are what queues the optimised recompilation.</summary>
    public const int MinimumRounds = 3;

    /// <summary>The tiering runtime recompiles hot methods on a background thread after a 100 ms pause in new compilation.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Prefix of the stand-in lead ids the rounds fold under (rolled back, never stored), followed by an id of this
    /// warm-up: replicas warming up at once do not wait on each other's uncommitted rows.
    /// </summary>
    public const string StandInPrefix = "~warm-up~";

    private readonly string _standIn = $"{StandInPrefix}{Guid.NewGuid():N}~";

    /// <summary>Test hook: runs in each round's transaction after the page's statements, before the rollback.</summary>
    public Func<NpgsqlTransaction, Task>? BeforeRollback { get; init; }

    public async Task<LeadScoreWarmUpResult> RunAsync(TimeSpan budget, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var compiledAtStart = JitInfo.GetCompiledMethodCount();
        var jitAtStart = JitInfo.GetCompilationTime();
        var projection = new LeadScoreLiveProjection(model, schema);
        long upTo;
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var newest = new NpgsqlCommand($"select coalesce(max(seq_id), 0) from {schema}.mt_events", connection);
            upTo = (long)(await newest.ExecuteScalarAsync(cancellationToken))!;
        }

        if (upTo == 0) return new LeadScoreWarmUpResult(0, 0, 0, 0, TimeSpan.Zero, watch.Elapsed, Quiet: false);

        using var suppressed = SuppressInstrumentationScope.Begin();
        var rounds = 0;
        var events = 0;
        var lastCompiled = 0;
        var quiet = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            var before = JitInfo.GetCompiledMethodCount();
            events = await RoundAsync(projection, upTo, cancellationToken);
            rounds++;
            await Task.Delay(Settle, cancellationToken);
            lastCompiled = (int)(JitInfo.GetCompiledMethodCount() - before);
            logger?.LogDebug("LeadScore warm-up round {Round}: {Events} events, {Compiled} methods compiled, {Elapsed:0.0}s in", rounds, events, lastCompiled,
                watch.Elapsed.TotalSeconds);
            if (rounds >= MinimumRounds && lastCompiled < QuietMethods)
            {
                quiet = true;
                break;
            }

            if (watch.Elapsed >= budget) break;
        }

        return new LeadScoreWarmUpResult(rounds, events, JitInfo.GetCompiledMethodCount() - compiledAtStart, lastCompiled,
            JitInfo.GetCompilationTime() - jitAtStart, watch.Elapsed, quiet);
    }

    private async Task<int> RoundAsync(LeadScoreLiveProjection projection, long upTo, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        // Never committed: rolled back below, or on disposal when anything throws (which then surfaces unmasked).
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // A session in the round's transaction: SaveChanges sends the queued statements and does not commit.
        await using var session = store.LightweightSession(SessionOptions.ForTransaction(transaction));
        var after = upTo - RoundEvents;
        var events = (await session.Events.QueryAllRawEvents()
                .Where(e => e.Sequence > after && e.Sequence <= upTo)
                .OrderBy(e => e.Sequence)
                .ToListAsync(cancellationToken))
            .Where(e => e.StreamKey is not null)
            .ToList();
        if (events.Count == 0) return 0;
        var leads = events.Select(e => e.StreamKey!).Distinct(StringComparer.Ordinal).ToArray();
        await session.LoadManyAsync<LeadScoreView>(cancellationToken, leads);
        foreach (var e in events) e.StreamKey = _standIn + e.StreamKey;
        await projection.ApplyAsync(session, events, cancellationToken);
        await session.SaveChangesAsync(cancellationToken);
        if (BeforeRollback is { } beforeRollback) await beforeRollback(transaction);
        await transaction.RollbackAsync(cancellationToken);
        return events.Count;
    }
}

/// <summary>
/// What a warm-up did: rounds run, events per round, methods compiled in all and in the last round, JIT time, time
/// taken, and whether it ended because a round compiled little (else the budget or cancellation ended it, or the store
/// had no events: 0 rounds).
/// </summary>
public sealed record LeadScoreWarmUpResult(int Rounds, int RoundEvents, long Compiled, int CompiledInLastRound, TimeSpan JitTime, TimeSpan Elapsed, bool Quiet);
