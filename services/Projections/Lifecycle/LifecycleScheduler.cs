using System.Diagnostics.Metrics;
using Marten;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Polly;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Projections.Lifecycle;

/// <summary>What one round of the scheduler did.</summary>
public readonly record struct SchedulerRound(int Claimed, int Appended, int Duplicates, int Failed);

/// <summary>
/// Works the durable lifecycle schedule: for each row due by the clock (an index range on <c>due_at</c>, never a scan of
/// every lead) it appends <see cref="LifecycleClockTicked"/> to the lead's stream with the deterministic id
/// <see cref="LifecycleSchedule.TickEventId"/>, then deletes the row. The projection folds the tick (the transition at
/// the computed instant goes to the outbox) and schedules the lead's next instant.
/// <para>
/// Exactly once per (lead, due instant): rows are claimed with <c>for update skip locked</c>, so replicas share the work,
/// and the store's unique index on event ids is the guarantee behind that: a tick a crashed earlier attempt already
/// appended (the process died between the append and the delete) is found by its id, or refused by the index if it
/// lands meanwhile, counted as a suppressed duplicate, and the row is deleted. While a row is claimed the projection's write of that
/// lead's next instant waits for the claim to commit, so the delete never removes a newer instant.
/// </para>
/// <para>
/// It sleeps until the earliest due instant (on the injected clock, so a test clock moves it), a NOTIFY from the
/// projection, or the real-time poll interval, whichever comes first.
/// </para>
/// </summary>
public sealed partial class LifecycleScheduler(
    IDocumentStore store,
    IOptions<EventStoreOptions> storeOptions,
    IOptions<LifecycleSchedulerOptions> options,
    TimeProvider clock,
    ILogger<LifecycleScheduler> logger) : BackgroundService
{
    /// <summary>The listening connection's application_name (pg_stat_activity), so operators and tests can find it.</summary>
    public static string ListenerApplicationName(string schema) => $"lifecycle-scheduler:{schema}";

    // A bounded sleep on the clock: with a test clock a jump of days is seen within one real poll anyway.
    private static readonly TimeSpan LongestSleep = TimeSpan.FromHours(1);

    private static readonly Counter<long> TicksAppended =
        PlatformTelemetry.Meter.CreateCounter<long>("scoring.lifecycle.scheduler.ticks", "{tick}", "Clock ticks appended for due lifecycle transitions");

    private static readonly Counter<long> DuplicatesSuppressed =
        PlatformTelemetry.Meter.CreateCounter<long>("scoring.lifecycle.scheduler.duplicates", "{tick}",
            "Due rows whose tick was already stored (another replica, or an attempt that crashed before deleting the row)");

    private readonly SemaphoreSlim _wake = new(0, 1);

    private readonly ResiliencePipeline _retry = Resilience.RetryUntilCancelled(
        _ => true, (attempt, ex) => LogRetry(logger, attempt, ex));

    // The earliest due instant seen at the last look (0: none), for the lag gauge and the health check.
    private long _earliestDueTicks;

    private LifecycleSchedulerOptions Options => options.Value;
    private string Schema => storeOptions.Value.Schema;
    private string Table => $"{Schema}.{LifecycleSchedule.TableName}";

    /// <summary>How long the oldest row not yet worked has been due (zero: nothing overdue).</summary>
    public TimeSpan DueLag =>
        Interlocked.Read(ref _earliestDueTicks) is var ticks and > 0 && clock.GetUtcNow() - new DateTimeOffset(ticks, TimeSpan.Zero) is var lag && lag > TimeSpan.Zero
            ? lag
            : TimeSpan.Zero;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.lifecycle.scheduler.due_lag", () => DueLag.TotalSeconds, "s",
            "How long the oldest lifecycle schedule row not yet worked has been due");
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Options.Enabled)
        {
            LogDisabled(logger, Schema);
            return Task.CompletedTask;
        }

        return _retry.ExecuteAsync(async ct => await RunAsync(ct), stoppingToken).AsTask();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        // Unpooled: LISTEN belongs to this physical connection and must not be handed to other users of the pool.
        var listenConnectionString = new NpgsqlConnectionStringBuilder(storeOptions.Value.ConnectionString)
        {
            Pooling = false,
            ApplicationName = ListenerApplicationName(Schema),
        }.ConnectionString;
        await using var listener = new NpgsqlConnection(listenConnectionString);
        await listener.OpenAsync(ct);
        listener.Notification += (_, _) => Wake();
        await using (var listen = new NpgsqlCommand($"listen \"{LifecycleSchedule.Channel(Schema)}\"", listener))
        {
            await listen.ExecuteNonQueryAsync(ct);
        }

        using var stopListening = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var listening = ListenAsync(listener, stopListening.Token);
        LogStarted(logger, Schema);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var now = clock.GetUtcNow();
                var round = await WorkDueAsync(now, ct);
                if (round.Claimed == Options.BatchSize && round.Failed == 0) continue;

                var earliest = await EarliestDueAsync(ct);
                Interlocked.Exchange(ref _earliestDueTicks, earliest?.UtcTicks ?? 0);
                // Due rows left after a round are claimed by another replica or failed: the poll retries them.
                TimeSpan? untilDue = earliest is { } due && due > now ? Min(due - now, LongestSleep) : null;
                await SleepAsync(untilDue, listening, ct);
            }
        }
        finally
        {
            await stopListening.CancelAsync();
            try
            {
                await listening;
            }
            catch (Exception) when (ct.IsCancellationRequested || stopListening.IsCancellationRequested)
            {
                // Stopping: the listener's end is expected.
            }
        }
    }

    /// <summary>
    /// One round: claims up to <see cref="LifecycleSchedulerOptions.BatchSize"/> rows due at <paramref name="now"/>, appends
    /// their ticks, deletes the rows whose tick is stored, commits. Rows whose append failed for another reason stay.
    /// </summary>
    public async Task<SchedulerRound> WorkDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(storeOptions.Value.ConnectionString);
        await connection.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var due = await ClaimDueAsync(connection, transaction, now, ct);
        if (due.Count == 0)
        {
            await transaction.CommitAsync(ct);
            return default;
        }

        var (stored, appended) = await AppendTicksAsync(connection, due, ct);
        await DeleteAsync(connection, transaction, stored, ct);
        await transaction.CommitAsync(ct);

        var duplicates = stored.Count - appended;
        TicksAppended.Add(appended);
        DuplicatesSuppressed.Add(duplicates);
        LogRound(logger, due.Count, appended, duplicates, due.Count - stored.Count);
        return new SchedulerRound(due.Count, appended, duplicates, due.Count - stored.Count);
    }

    private async Task<List<DueRow>> ClaimDueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            $"select lead_id, due_at from {Table} where due_at <= @now order by due_at limit @n for update skip locked", connection, transaction);
        command.Parameters.AddWithValue("now", NpgsqlDbType.TimestampTz, now.ToUniversalTime());
        command.Parameters.AddWithValue("n", Options.BatchSize);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<DueRow>();
        while (await reader.ReadAsync(ct)) rows.Add(new DueRow(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1)));
        return rows;
    }

    /// <summary>
    /// Appends the ticks not stored yet in one transaction; if one turns out stored after all (unique violation) or the
    /// store refuses one, one at a time, so one lead never holds up the others. Returns the rows whose tick is now stored
    /// and how many this call appended.
    /// </summary>
    private async Task<(List<DueRow> Stored, int Appended)> AppendTicksAsync(NpgsqlConnection connection, List<DueRow> rows, CancellationToken ct)
    {
        // Ticks an earlier attempt stored are skipped up front: a refused append would still take event sequence
        // numbers, a gap the daemon's high-water mark waits out before it moves on.
        var existing = await StoredTicksAsync(connection, rows, ct);
        var fresh = rows.Where(r => !existing.Contains(r.TickId)).ToList();
        if (fresh.Count < rows.Count)
        {
            foreach (var row in rows.Where(r => existing.Contains(r.TickId))) LogDuplicate(logger, row.LeadId, row.DueAt);
        }

        if (fresh.Count == 0) return (rows, 0);
        try
        {
            await AppendAsync(fresh, ct);
            return (rows, fresh.Count);
        }
        catch (Exception ex) when (IsUniqueViolation(ex) || (ex is not OperationCanceledException && !IsTransient(ex)))
        {
            // A tick stored meanwhile (another writer), or one lead the store refuses: one transaction per lead.
        }

        var stored = rows.Where(r => existing.Contains(r.TickId)).ToList();
        var appended = 0;
        foreach (var row in fresh)
        {
            try
            {
                await AppendAsync([row], ct);
                stored.Add(row);
                appended++;
            }
            catch (Exception ex) when (IsUniqueViolation(ex))
            {
                LogDuplicate(logger, row.LeadId, row.DueAt);
                stored.Add(row);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !IsTransient(ex))
            {
                LogAppendFailed(logger, row.LeadId, row.DueAt, ex);
            }
        }

        return (stored, appended);
    }

    private async Task<HashSet<Guid>> StoredTicksAsync(NpgsqlConnection connection, List<DueRow> rows, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"select id from {Schema}.mt_events where id = any(@ids)", connection);
        command.Parameters.AddWithValue("ids", rows.Select(r => r.TickId).ToArray());
        await using var reader = await command.ExecuteReaderAsync(ct);
        var found = new HashSet<Guid>();
        while (await reader.ReadAsync(ct)) found.Add(reader.GetGuid(0));
        return found;
    }

    /// <summary>
    /// Appends the ticks in one transaction, after taking Ingestion's identity locks on their leads. Marten's quick
    /// append reads a stream's version unlocked, inserts, then bumps the stream row; Ingestion's set-based append bumps
    /// the row first. At once on one stream they collided (a duplicate stream version, or a deadlock), and the rolled-back
    /// side left a gap in the event sequence that the daemon's high-water mark waits out. Taking the same locks in the same
    /// (ascending) order as every other writer of lead streams makes them take turns instead.
    /// </summary>
    private async Task AppendAsync(IReadOnlyList<DueRow> rows, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        var leads = rows.Select(r => r.LeadId).Distinct(StringComparer.Ordinal).ToArray();
        await IdentityAliases.LockAsync(session.Connection!, Schema, leads, ct);
        foreach (var row in rows)
        {
            var action = session.Events.Append(row.LeadId, new LifecycleClockTicked(row.DueAt));
            action.Events[0].Id = row.TickId;
        }

        await session.SaveChangesAsync(ct);
    }

    private async Task DeleteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<DueRow> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return;
        // Only the instant worked: a row moved to another instant stays (the claim's lock makes that rare, not impossible
        // for a row written without this scheduler's lock, e.g. by an operator).
        await using var command = new NpgsqlCommand(
            $"delete from {Table} s using unnest(@leads, @dues) as w(lead_id, due_at) where s.lead_id = w.lead_id and s.due_at = w.due_at",
            connection, transaction);
        command.Parameters.AddWithValue("leads", NpgsqlDbType.Array | NpgsqlDbType.Text, rows.Select(r => r.LeadId).ToArray());
        command.Parameters.AddWithValue("dues", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, rows.Select(r => r.DueAt).ToArray());
        await command.ExecuteNonQueryAsync(ct);
    }

    private async Task<DateTimeOffset?> EarliestDueAsync(CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(storeOptions.Value.ConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"select min(due_at) from {Table}", connection);
        var value = await command.ExecuteScalarAsync(ct);
        return value is DateTime at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
    }

    private async Task SleepAsync(TimeSpan? untilDue, Task listening, CancellationToken ct)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var wakes = new List<Task> { _wake.WaitAsync(cancel.Token), Task.Delay(Options.PollInterval, cancel.Token), listening };
        if (untilDue is { } delay) wakes.Add(Task.Delay(delay, clock, cancel.Token));
        var first = await Task.WhenAny(wakes);
        await cancel.CancelAsync();
        ct.ThrowIfCancellationRequested();
        // The listener only ends by failing (its connection broke): reconnect through the retry loop.
        if (first == listening) await listening;
    }

    private static async Task ListenAsync(NpgsqlConnection listener, CancellationToken ct)
    {
        while (true) await listener.WaitAsync(ct);
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static bool IsUniqueViolation(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }) return true;
        }

        return false;
    }

    /// <summary>The store is unreachable or shedding load: the whole round retries, no row is given up.</summary>
    private static bool IsTransient(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg:
                    return pg.IsTransient || pg.SqlState[..2] is "08" or "53" or "57" or "40";
                case NpgsqlException or TimeoutException or IOException:
                    return true;
            }
        }

        return false;
    }

    private sealed record DueRow(string LeadId, DateTimeOffset DueAt)
    {
        public Guid TickId { get; } = LifecycleSchedule.TickEventId(LeadId, DueAt);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Lifecycle scheduler of schema {Schema} is working due transitions")]
    private static partial void LogStarted(ILogger logger, string schema);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lifecycle scheduler of schema {Schema} is disabled (Lifecycle:Scheduler:Enabled = false)")]
    private static partial void LogDisabled(ILogger logger, string schema);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Lifecycle scheduler worked {Claimed} due rows: {Appended} ticks appended, {Duplicates} already stored, {Failed} failed")]
    private static partial void LogRound(ILogger logger, int claimed, int appended, int duplicates, int failed);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Tick for lead {LeadId} at {DueAt:O} was already stored; row removed")]
    private static partial void LogDuplicate(ILogger logger, string leadId, DateTimeOffset dueAt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Tick for lead {LeadId} at {DueAt:O} could not be appended; the row stays due")]
    private static partial void LogAppendFailed(ILogger logger, string leadId, DateTimeOffset dueAt, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lifecycle scheduler failed (attempt {Attempt}); reconnecting")]
    private static partial void LogRetry(ILogger logger, int attempt, Exception? exception);
}
