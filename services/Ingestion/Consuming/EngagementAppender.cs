using Marten;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Leads.EventStore;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>One event to append: the lead stream, its idempotency id, the stored event and its trace context.</summary>
public sealed record PendingEvent(string StreamKey, Guid EventId, object Data, string? TraceParent);

/// <summary>An event the store refused deterministically, with PostgreSQL's reason (SQLSTATE and message).</summary>
public sealed record StoreRejection(PendingEvent Event, string Reason);

public readonly record struct AppendResult(int Appended, int Duplicates)
{
    private static readonly StoreRejection[] None = [];

    /// <summary>Events the store refused; the rest of the batch is stored.</summary>
    public IReadOnlyList<StoreRejection> Rejected { get; init; } = None;

    public static AppendResult Sum(IEnumerable<AppendResult> results)
    {
        var list = results.ToList();
        return new AppendResult(list.Sum(r => r.Appended), list.Sum(r => r.Duplicates))
        {
            Rejected = list.SelectMany(r => r.Rejected).ToArray() is { Length: > 0 } rejected ? rejected : None,
        };
    }
}

/// <summary>
/// Appends a batch of events to the lead streams, counting each event id once. Ids already stored are
/// skipped up front (one query per transaction); the unique index on event ids is the guarantee, and if it
/// fires (a race with another writer) that transaction's events are retried one at a time.
/// Every transaction runs through <see cref="StoreResilience"/>; when PostgreSQL refuses a transaction's data,
/// its events are bisected down to the single events it refuses, which are returned as rejected, and the
/// rest is stored.
/// </summary>
public sealed class EngagementAppender(
    IDocumentStore store, IOptions<EventStoreOptions> options, IOptions<IngestionOptions> ingestion, StoreResilience resilience)
{
    private const string UniqueViolation = "23505";

    /// <summary>
    /// Appends the batch over <see cref="IngestionOptions.AppendConcurrency"/> transactions at once, the streams
    /// split by lead so each lead's events stay in order in one transaction. PostgreSQL then works on
    /// several appends in parallel; the caller commits offsets only when all of them succeeded.
    /// </summary>
    public async Task<AppendResult> AppendAsync(IReadOnlyList<PendingEvent> batch, CancellationToken ct)
    {
        var concurrency = ingestion.Value.AppendConcurrency;
        if (concurrency <= 1 || batch.Count < 2 * concurrency) return await AppendIsolatingAsync(batch, ct);

        var parts = new List<PendingEvent>[concurrency];
        for (var i = 0; i < concurrency; i++) parts[i] = new List<PendingEvent>(batch.Count / concurrency + 1);
        foreach (var e in batch)
        {
            parts[(int)((uint)StringComparer.Ordinal.GetHashCode(e.StreamKey) % (uint)concurrency)].Add(e);
        }

        return AppendResult.Sum(await Task.WhenAll(parts.Where(p => p.Count > 0).Select(p => AppendIsolatingAsync(p, ct))));
    }

    /// <summary>
    /// Appends <paramref name="events"/>; if the store refuses them, appends each half on its own (left first, so a
    /// lead's events keep their order) until the refused events stand alone. A transient failure never gets here:
    /// the pipeline retries it until it succeeds or <paramref name="ct"/> is cancelled.
    /// </summary>
    private async Task<AppendResult> AppendIsolatingAsync(IReadOnlyList<PendingEvent> events, CancellationToken ct)
    {
        try
        {
            return await resilience.ExecuteAsync(token => AppendPartAsync(events, token), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && StoreFailures.Classify(ex) != StoreFailureKind.Transient)
        {
            if (events.Count == 1) return new AppendResult(0, 0) { Rejected = [new StoreRejection(events[0], StoreFailures.Describe(ex))] };
            var half = events.Count / 2;
            var left = await AppendIsolatingAsync(events.Take(half).ToList(), ct);
            var right = await AppendIsolatingAsync(events.Skip(half).ToList(), ct);
            return AppendResult.Sum([left, right]);
        }
    }

    private async Task<AppendResult> AppendPartAsync(IReadOnlyList<PendingEvent> batch, CancellationToken ct)
    {
        var unique = new List<PendingEvent>(batch.Count);
        var seen = new HashSet<Guid>();
        foreach (var e in batch)
        {
            if (seen.Add(e.EventId)) unique.Add(e);
        }

        var existing = await ExistingIdsAsync(unique.Select(e => e.EventId).ToArray(), ct);
        var fresh = existing.Count == 0 ? unique : unique.Where(e => !existing.Contains(e.EventId)).ToList();
        var duplicates = batch.Count - fresh.Count;
        if (fresh.Count == 0) return new AppendResult(0, duplicates);

        try
        {
            await using var session = store.LightweightSession();
            Stage(session, fresh);
            await session.SaveChangesAsync(ct);
            return new AppendResult(fresh.Count, duplicates);
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            var appended = 0;
            foreach (var e in fresh)
            {
                if (await AppendOneAsync(e, ct)) appended++;
            }

            return new AppendResult(appended, batch.Count - appended);
        }
    }

    private async Task<bool> AppendOneAsync(PendingEvent e, CancellationToken ct)
    {
        try
        {
            await using var session = store.LightweightSession();
            Stage(session, [e]);
            await session.SaveChangesAsync(ct);
            return true;
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            return false;
        }
    }

    private static void Stage(IDocumentSession session, IReadOnlyList<PendingEvent> events)
    {
        foreach (var stream in events.GroupBy(e => e.StreamKey))
        {
            var items = stream.ToArray();
            var action = session.Events.Append(stream.Key, items.Select(e => e.Data).ToArray());
            for (var i = 0; i < items.Length; i++)
            {
                var stored = action.Events[i];
                stored.Id = items[i].EventId;
                if (items[i].TraceParent is { } traceParent)
                {
                    stored.SetHeader(Leads.EventStore.EventHeaders.TraceParent, traceParent);
                }
            }
        }
    }

    private async Task<HashSet<Guid>> ExistingIdsAsync(Guid[] ids, CancellationToken ct)
    {
        var found = new HashSet<Guid>();
        await using var connection = new NpgsqlConnection(options.Value.ConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"select id from {options.Value.Schema}.mt_events where id = any(@ids)", connection);
        command.Parameters.AddWithValue("ids", ids);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            found.Add(reader.GetGuid(0));
        }

        return found;
    }

    private static bool IsUniqueViolation(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: UniqueViolation }) return true;
        }

        return false;
    }
}
