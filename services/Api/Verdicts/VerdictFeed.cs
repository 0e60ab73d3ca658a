using Marten;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;

namespace ScoringPlatform.Api.Verdicts;

/// <summary>
/// Keeps <see cref="LeadVerdictStore"/> up to date from the projection's commits. The projection writes a page's views
/// in the transaction that moves its progression (<c>mt_event_progression</c>, <c>LeadScore:All</c>) to the page's last
/// sequence, one page at a time, and NOTIFYs <see cref="LeadScoreProjection.ChangesChannel"/> at commit. So after each
/// notification the feed reads the progression P, then the views of the streams whose events lie between the position
/// it last read and P, and moves its position to P: every change is found, and each lead is read once per read however
/// many of its events it covers. (Until the eleventh session on issue 11 it read <c>last_sequence &gt; seen</c> through
/// an index; that index kept every rewrite of a view from being a HOT update, see LeadEventStore.)
/// <para>
/// One dedicated connection LISTENs and reads. At start, after a <c>reset</c> notification (a rebuild rewrote every view
/// and moved the progression) and after every reconnection (a reset may have been missed meanwhile) it reads the
/// progression, then reloads every view in id order and drops the leads it no longer found. Without a notification it
/// reads anyway every <see cref="VerdictCacheOptions.SafetyPollInterval"/>. When PostgreSQL goes away it reconnects with
/// backoff and memory keeps answering what it has (the Age gauge and readiness show it). Views stored with no sequence
/// (0: not written by the projection) are never held; the database answers them.
/// </para>
/// </summary>
public sealed partial class VerdictFeed(
    LeadVerdictStore memory,
    IDocumentStore store,
    ScoringModelProvider models,
    IOptions<EventStoreOptions> storeOptions,
    IOptions<VerdictCacheOptions> options,
    ILogger<VerdictFeed> logger) : BackgroundService
{
    private const string ResetPayload = "reset";

    /// <summary>The feed connection's application_name in pg_stat_activity.</summary>
    public static string ApplicationName(string schema) => $"scoring-api-verdicts:{schema}";

    // 0: nothing pending; 1: rows changed; 2: reset (everything is reloaded).
    private int _pending;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var delay = settings.ReconnectMinDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await FollowAsync(settings, () => delay = settings.ReconnectMinDelay, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                memory.MarkConnected(false);
                LogFeedFailed(logger, ex, memory.Count, delay.TotalSeconds);
                try
                {
                    await Task.Delay(delay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(settings.ReconnectMaxDelay.Ticks, delay.Ticks * 2));
            }
        }
    }

    private async Task FollowAsync(VerdictCacheOptions settings, Action connected, CancellationToken ct)
    {
        var schema = storeOptions.Value.Schema;
        // Its own unpooled connection: LISTEN belongs to the session, and a pooled connection would carry it elsewhere.
        var builder = new NpgsqlConnectionStringBuilder(storeOptions.Value.ConnectionString)
        {
            Pooling = false,
            KeepAlive = 10,
            // Named, so an operator (and the tests) can find it in pg_stat_activity.
            ApplicationName = ApplicationName(schema),
        };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Notification += (_, e) =>
        {
            var kind = e.Payload == ResetPayload ? 2 : 1;
            // A reset wins over a pending change; a change never downgrades a pending reset.
            int current;
            do current = Volatile.Read(ref _pending);
            while (current < kind && Interlocked.CompareExchange(ref _pending, kind, current) != current);
        };
        await connection.OpenAsync(ct);
        await using (var listen = new NpgsqlCommand($"listen \"{LeadScoreProjection.ChangesChannel(schema)}\"", connection))
        {
            await listen.ExecuteNonQueryAsync(ct);
        }

        // Listening first, then reading everything: a change committed in between is both read and notified (read twice, harmless).
        Interlocked.Exchange(ref _pending, 0);
        var seen = await ReloadAsync(connection, schema, settings, ct);
        memory.MarkConnected(true);
        connected();
        if (!memory.Loaded)
        {
            memory.MarkLoaded();
            LogLoaded(logger, memory.Count, seen);
        }

        while (true)
        {
            if (Volatile.Read(ref _pending) == 0)
            {
                // Notifications arrive here (or while a read runs, raising the event all the same); false: the safety poll.
                await connection.WaitAsync(settings.SafetyPollInterval, ct);
            }

            var pending = Interlocked.Exchange(ref _pending, 0);
            if (pending == 2)
            {
                LogReset(logger);
                seen = await ReloadAsync(connection, schema, settings, ct);
            }
            else
            {
                seen = await ReadAsync(connection, schema, settings, seen, ct);
            }
        }
    }

    /// <summary>
    /// Reads every view with a sequence in id order, then drops the leads not found (a rebuild may have removed some);
    /// returns the progression read before the first page. A view changed after that is read again by the next
    /// <see cref="ReadAsync"/> (twice at most, harmless); none is missed.
    /// </summary>
    private async Task<long> ReloadAsync(NpgsqlConnection connection, string schema, VerdictCacheOptions settings, CancellationToken ct)
    {
        var position = await ProgressionAsync(connection, schema, ct);
        var found = new HashSet<string>(StringComparer.Ordinal);
        var model = models.Current;
        var serializer = store.Options.Serializer();
        var sql = $"""
            select id, data from {schema}.mt_doc_leadscoreview
            where id > @after
            order by id
            limit @limit
            """;
        var after = "";
        while (true)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.AddWithValue("after", after);
            command.Parameters.AddWithValue("limit", settings.PageSize);
            var rows = 0;
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    rows++;
                    after = reader.GetString(0);
                    found.Add(after);
                    Hold(after, reader, 1, serializer, model);
                }
            }

            if (rows < settings.PageSize) break;
        }

        memory.RemoveAllExcept(found);
        memory.Advanced(position);
        return position;
    }

    /// <summary>
    /// Reads the views of the streams with events after <paramref name="seen"/> up to the progression, at most
    /// <see cref="VerdictCacheOptions.PageSize"/> events a read; returns the new position (the progression).
    /// </summary>
    private async Task<long> ReadAsync(NpgsqlConnection connection, string schema, VerdictCacheOptions settings, long seen, CancellationToken ct)
    {
        var ceiling = await ProgressionAsync(connection, schema, ct);
        if (ceiling < seen)
        {
            // The progression went back (only a rebuild moves it so, and it sends a reset): read everything again.
            return await ReloadAsync(connection, schema, settings, ct);
        }

        var model = models.Current;
        var serializer = store.Options.Serializer();
        // One statement a page: its events' count and last sequence (one row even when no view matched), and the views
        // of its streams. The whole view document: since the lifecycle is one packed string, a partial document built
        // in SQL saved little to send and cost PostgreSQL a detoast per field it picked. VerdictState keeps only the
        // verdict part of what is read.
        var sql = $"""
            with page as (
                select seq_id, stream_id from {schema}.mt_events
                where seq_id > @seen and seq_id <= @ceiling
                order by seq_id
                limit @limit),
            totals as (select count(*) as events, coalesce(max(seq_id), 0) as upto from page)
            select t.events, t.upto, v.id, v.data
            from totals t
            left join (select distinct stream_id from page) s on true
            left join {schema}.mt_doc_leadscoreview v on v.id = s.stream_id
            """;
        while (seen < ceiling)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.AddWithValue("seen", seen);
            command.Parameters.AddWithValue("ceiling", ceiling);
            command.Parameters.AddWithValue("limit", settings.PageSize);
            long events = 0, upto = 0;
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    events = reader.GetInt64(0);
                    upto = reader.GetInt64(1);
                    if (!reader.IsDBNull(2)) Hold(reader.GetString(2), reader, 3, serializer, model);
                }
            }

            // A short page reached the ceiling (sequences between the last event and it are gaps no event will fill:
            // the progression only passes committed sequences or ones Marten gave up on).
            seen = events < settings.PageSize ? ceiling : upto;
        }

        memory.Advanced(seen);
        return seen;
    }

    /// <summary>The projection's progression: every view it wrote up to that sequence is committed.</summary>
    private static async Task<long> ProgressionAsync(NpgsqlConnection connection, string schema, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            $"select coalesce(max(last_seq_id), 0) from {schema}.mt_event_progression where name = @name", connection);
        command.Parameters.AddWithValue("name", $"{LeadScoreProjection.ProjectionName}:All");
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Holds the verdict part of one view read from the database (none for a view the projection did not write).</summary>
    private void Hold(string id, NpgsqlDataReader reader, int column, ISerializer serializer, ScoringModel model)
    {
        try
        {
            var view = serializer.FromJson<LeadScoreView>(reader, column);
            memory.Set(id, view.LastSequence > 0 ? VerdictState.TryPack(view, model) : null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // One view memory cannot read must not stop the feed on that row: the database answers it.
            memory.Set(id, null);
            LogUnreadable(logger, ex, id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Verdicts from memory: {Count} leads loaded up to sequence {Sequence}")]
    private static partial void LogLoaded(ILogger logger, int count, long sequence);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Score view {LeadId} could not be read into memory; the database answers its verdicts")]
    private static partial void LogUnreadable(ILogger logger, Exception exception, string leadId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Score views were rebuilt (reset): reloading the verdicts held in memory")]
    private static partial void LogReset(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The score views' change feed failed; still answering {Count} leads from memory, reconnecting in {DelaySeconds} s")]
    private static partial void LogFeedFailed(ILogger logger, Exception exception, int count, double delaySeconds);
}

/// <summary>Readiness: not ready until the first full load completed, nor while the feed reconnects (memory would go stale).</summary>
public sealed class VerdictCacheHealthCheck(LeadVerdictStore memory) : IHealthCheck
{
    public const string Name = "verdict-cache";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var age = $"{memory.Count} leads, sequence {memory.Position}, read {memory.Age.TotalSeconds:0.0} s ago";
        return Task.FromResult(
            !memory.Loaded ? HealthCheckResult.Unhealthy("loading the score views into memory")
            : !memory.Connected ? HealthCheckResult.Degraded($"the change feed is reconnecting; {age}")
            : HealthCheckResult.Healthy(age));
    }
}
