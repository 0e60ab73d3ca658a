using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using Marten;
using Marten.Events.Projections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// The live <see cref="LeadScoreView"/> projection, set-based: per daemon page it loads every touched view with one
/// query, folds each lead's events in sequence order with <see cref="LeadScoreProjection.Evolve"/> (the same per-event
/// fold Marten's <see cref="LeadScoreProjection"/> path runs), and queues one statement per table: all changed
/// documents, all outbox rows, all schedule upserts and deletes, plus the NOTIFYs. Marten's
/// <see cref="LeadScoreProjection"/> does the same work with one load per page but one upsert function call per
/// document and one statement per outbox row, which bounded catch-up at ~3–4k events/s (issue 11).
/// <para>
/// It runs in Marten's async daemon like any projection (registered under <see cref="LeadScoreProjection.ProjectionName"/>):
/// the statements are queued on the page's unit of work, so they commit with the shard's progression row, and a
/// page that fails rolls back as a whole and is re-run from the committed documents (nothing is cached between pages).
/// The document rows are the ones Marten's upsert writes (same JSON, duplicated columns, <c>mt_dotnet_type</c>, the
/// revision in <c>mt_version</c>, <c>mt_last_modified</c> = the transaction's timestamp): LeadScoreLiveProjectionTests diffs them.
/// </para>
/// </summary>
public sealed class LeadScoreLiveProjection : IProjection
{
    private readonly LeadScoreProjection _fold;
    private readonly string _schema;
    private readonly ILogger _logger;
    private readonly string _upsertDocuments;
    private readonly string _upsertDocumentsAndNotify;
    private readonly string _insertOutbox;
    private readonly string _upsertSchedule;
    private readonly string _deleteSchedule;

    public LeadScoreLiveProjection(ScoringModel model, string schema, ILogger? logger = null)
    {
        _fold = new LeadScoreProjection(model, schema);
        _schema = schema;
        _logger = logger ?? NullLogger.Instance;
        var table = $"{schema}.mt_doc_leadscoreview";
        // The statement Marten 9 generates for a projected aggregate's upsert (numeric revisions, no optimistic
        // concurrency; see LeadEventStore): data, mt_dotnet_type, the duplicated fields, id, mt_version = the revision
        // (the stream version of the last event applied) and mt_last_modified = transaction_timestamp(), in insert and
        // update alike; an existing row is only replaced by a higher revision.
        var upsert = (string wake) =>
            $"insert into {table} as d (data, mt_dotnet_type, stage, tier, mql_entered_at, sla_due_at, last_sequence, id, mt_version, mt_last_modified) " +
            "select convert_from(r.data, 'UTF8')::jsonb, ?, r.stage, r.tier, r.mql_entered_at, r.sla_due_at, r.last_sequence, r.id, r.version, transaction_timestamp() " +
            "from unnest(?::bytea[], ?::varchar[], ?::varchar[], ?::timestamptz[], ?::timestamptz[], ?::bigint[], ?::varchar[], ?::bigint[]) " +
            "as r(data, stage, tier, mql_entered_at, sla_due_at, last_sequence, id, version) " + wake +
            "on conflict (id) do update set data = excluded.data, mt_dotnet_type = excluded.mt_dotnet_type, stage = excluded.stage, " +
            "tier = excluded.tier, mql_entered_at = excluded.mql_entered_at, sla_due_at = excluded.sla_due_at, " +
            "last_sequence = excluded.last_sequence, mt_version = excluded.mt_version, mt_last_modified = excluded.mt_last_modified " +
            "where d.mt_version < excluded.mt_version";
        _upsertDocuments = upsert("");
        // The change feed's NOTIFY folded into the statement (PostgreSQL delivers it at commit): every statement of the
        // page returns no rows, as Marten reads a batch's results by position.
        _upsertDocumentsAndNotify = upsert($"cross join (select pg_notify('{LeadScoreProjection.ChangesChannel(schema)}', '')) as wake ");
        // Rows in the order the per-row statements ran (lead by lead, as Marten ordered the slices), so positions keep
        // each lead's order for the relay. DO NOTHING also skips a duplicate within the statement (a transition
        // retracted and emitted again in one page keeps its first row, as the per-row inserts did).
        _insertOutbox =
            $"insert into {schema}.{LifecycleOutbox.TableName} (message_id, lead_id, message_type, payload, trace_parent, model_id, model_version) " +
            "select r.message_id, r.lead_id, r.message_type, r.payload::jsonb, r.trace_parent, r.model_id, r.model_version " +
            "from unnest(?::uuid[], ?::varchar[], ?::varchar[], ?::text[], ?::varchar[], ?::varchar[], ?::integer[]) with ordinality " +
            "as r(message_id, lead_id, message_type, payload, trace_parent, model_id, model_version, n) " +
            $"cross join (select pg_notify('{LifecycleOutbox.Channel(schema)}', '')) as wake " +
            "order by r.n on conflict (message_id) do nothing";
        _upsertSchedule =
            $"insert into {schema}.{LifecycleSchedule.TableName} (lead_id, due_at) " +
            "select r.lead_id, r.due_at from unnest(?::varchar[], ?::timestamptz[]) as r(lead_id, due_at) " +
            $"cross join (select pg_notify('{LifecycleSchedule.Channel(schema)}', '')) as wake " +
            "on conflict (lead_id) do update set due_at = excluded.due_at, updated_at = now() " +
            $"where {schema}.{LifecycleSchedule.TableName}.due_at is distinct from excluded.due_at";
        _deleteSchedule = $"delete from {schema}.{LifecycleSchedule.TableName} where lead_id = any(?::varchar[])";
    }

    public async Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        if (events.Count == 0) return;
        var started = Stopwatch.GetTimestamp();
        var debug = _logger.IsEnabled(LogLevel.Debug);
        var allocatedAtStart = debug ? GC.GetTotalAllocatedBytes() : 0;

        // Each lead's events in sequence order; leads in the order of their first event in the page.
        var byLead = new Dictionary<string, List<IEvent>>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            var key = e.StreamKey ?? throw new InvalidOperationException($"event {e.Id} has no stream key");
            if (!byLead.TryGetValue(key, out var list)) byLead[key] = list = [];
            list.Add(e);
        }

        foreach (var list in byLead.Values)
        {
            if (!IsSorted(list)) list.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        }

        var ids = byLead.Keys.ToArray();
        var loaded = await operations.LoadManyAsync<LeadScoreView>(cancellation, ids).ConfigureAwait(false);
        var views = new Dictionary<string, LeadScoreView>(loaded.Count, StringComparer.Ordinal);
        foreach (var view in loaded) views[view.Id] = view;
        var afterLoad = Stopwatch.GetTimestamp();
        var allocatedAfterLoad = debug ? GC.GetTotalAllocatedBytes() : 0;
        // The fold and the queueing run on one thread without awaiting: this thread's allocations are theirs alone.
        var threadAfterLoad = debug ? GC.GetAllocatedBytesForCurrentThread() : 0;

        var changed = new List<LeadScoreView>(byLead.Count);
        foreach (var (id, list) in byLead)
        {
            views.TryGetValue(id, out var view);
            foreach (var e in list) view = _fold.Evolve(view, id, e);
            // A lead whose only events make no view (a tick with nothing to move) stays without one, as in Marten's path.
            if (view is not null) changed.Add(view);
        }

        var afterFold = Stopwatch.GetTimestamp();
        var threadAfterFold = debug ? GC.GetAllocatedBytesForCurrentThread() : 0;
        if (changed.Count == 0) return;

        // Marten runs no side effects while rebuilding: a rebuild rewrites views, it does not publish history again
        // (and announces itself with one 'reset' when done).
        var live = !IsRebuild(operations);
        QueueDocuments(operations, changed, live);
        if (live) QueueSideEffects(operations, changed);
        foreach (var view in changed)
        {
            view.Pending.Clear();
            view.ScheduleChanged = false;
        }

        if (debug)
        {
            var done = Stopwatch.GetTimestamp();
            var threadAtEnd = GC.GetAllocatedBytesForCurrentThread();
            // KB allocated per event of the page: the load's are the process's (it awaits, and the daemon fetches the next
            // page meanwhile), the fold's and the queueing's this thread's.
            _logger.LogDebug(
                "LeadScore page: {Events} events, {Leads} leads; load {Load:F1} ms / {LoadKb:F1} KB, fold {Fold:F1} ms / {FoldKb:F1} KB, " +
                "serialise+queue {Queue:F1} ms / {QueueKb:F1} KB (per event)",
                events.Count, byLead.Count, Stopwatch.GetElapsedTime(started, afterLoad).TotalMilliseconds, PerEvent(allocatedAfterLoad - allocatedAtStart),
                Stopwatch.GetElapsedTime(afterLoad, afterFold).TotalMilliseconds, PerEvent(threadAfterFold - threadAfterLoad),
                Stopwatch.GetElapsedTime(afterFold, done).TotalMilliseconds, PerEvent(threadAtEnd - threadAfterFold));

            double PerEvent(long bytes) => bytes / 1024.0 / events.Count;
        }
    }

    private static bool IsSorted(List<IEvent> list)
    {
        for (var i = 1; i < list.Count; i++)
        {
            if (list[i - 1].Sequence > list[i].Sequence) return false;
        }

        return true;
    }

    private void QueueDocuments(IDocumentOperations operations, List<LeadScoreView> changed, bool notify)
    {
        var serializer = operations.DocumentStore.Options.Serializer();
        var n = changed.Count;
        // Each document's JSON as UTF-8 (the serializer's own bytes, as its string form would encode them), sent as bytea
        // and read back as text by the statement: no UTF-16 string per document, half the bytes (issue 11).
        var json = new ArrayBufferWriter<byte>(8192);
        var data = new byte[n][];
        var stage = new string[n];
        var tier = new string[n];
        var mqlEnteredAt = new DateTimeOffset?[n];
        var slaDueAt = new DateTimeOffset?[n];
        var lastSequence = new long[n];
        var id = new string[n];
        var version = new long[n];
        for (var i = 0; i < n; i++)
        {
            var view = changed[i];
            json.ResetWrittenCount();
            serializer.WriteTo(json, view);
            data[i] = json.WrittenSpan.ToArray();
            // Duplicated enum fields are stored by name (the store's EnumStorage.AsString), as Marten's upsert does.
            stage[i] = view.Stage.ToString();
            tier[i] = view.Tier.ToString();
            mqlEnteredAt[i] = view.MqlEnteredAt;
            slaDueAt[i] = view.SlaDueAt;
            lastSequence[i] = view.LastSequence;
            id[i] = view.Id;
            version[i] = view.StreamVersion;
        }

        operations.QueueSqlCommand(notify ? _upsertDocumentsAndNotify : _upsertDocuments,
            typeof(LeadScoreView).FullName!, data, stage, tier, mqlEnteredAt, slaDueAt, lastSequence, id, version);
    }

    private void QueueSideEffects(IDocumentOperations operations, List<LeadScoreView> changed)
    {
        var messageIds = new List<Guid>();
        var leadIds = new List<string>();
        var types = new List<string>();
        var payloads = new List<string>();
        var traceParents = new List<string?>();
        var modelIds = new List<string?>();
        var modelVersions = new List<int?>();
        var scheduled = new List<string>();
        var dueAt = new List<DateTimeOffset>();
        var unscheduled = new List<string>();
        foreach (var view in changed)
        {
            foreach (var pending in view.Pending)
            {
                foreach (var retracted in pending.Superseded) Add(view, retracted, pending.TraceParent, retraction: true);
                foreach (var transition in pending.Emitted) Add(view, transition, pending.TraceParent, retraction: false);
            }

            if (!view.ScheduleChanged) continue;
            if (view.NextDueAt is { } due)
            {
                scheduled.Add(view.Id);
                dueAt.Add(LifecycleSchedule.CeilingToMicrosecond(due));
            }
            else
            {
                unscheduled.Add(view.Id);
            }
        }

        if (messageIds.Count > 0)
        {
            operations.QueueSqlCommand(_insertOutbox, messageIds.ToArray(), leadIds.ToArray(), types.ToArray(), payloads.ToArray(),
                traceParents.ToArray(), modelIds.ToArray(), modelVersions.ToArray());
        }

        if (scheduled.Count > 0) operations.QueueSqlCommand(_upsertSchedule, scheduled.ToArray(), dueAt.ToArray());
        // (Wrapped: a lone string[] would bind as the params array itself, one parameter per id.)
        if (unscheduled.Count > 0) operations.QueueSqlCommand(_deleteSchedule, new object[] { unscheduled.ToArray() });
        return;

        void Add(LeadScoreView view, LifecycleTransition t, string? traceParent, bool retraction)
        {
            var type = retraction ? LifecycleMessageTypes.TransitionRetracted : LeadScoreProjection.MessageType(t.Kind);
            using var activity = PlatformTelemetry.Source.StartActivity(
                "lead-lifecycle transition", ActivityKind.Internal, PlatformTelemetry.ParseTraceParent(traceParent));
            activity?.SetTag("lead.id", view.Id);
            activity?.SetTag("lead.transition", type);
            var message = LeadScoreProjection.ToMessage(view.Id, t, type, retraction);
            messageIds.Add(message.MessageId);
            leadIds.Add(message.LeadId);
            types.Add(message.Type);
            payloads.Add(JsonSerializer.Serialize(message, ContractJson.Options));
            traceParents.Add(PlatformTelemetry.TraceParentOf(activity) ?? traceParent);
            modelIds.Add(message.ModelId);
            modelVersions.Add(message.ModelVersion);
        }
    }

    private static readonly ConcurrentDictionary<Type, PropertyInfo?> ModeProperties = new();

    /// <summary>
    /// Whether the daemon runs this page for a rebuild. Marten hands a custom projection its page session and no mode;
    /// the session type (internal) carries it as <c>Mode</c>. A session without one is an inline or test call: live.
    /// </summary>
    private static bool IsRebuild(IDocumentOperations operations)
    {
        var property = ModeProperties.GetOrAdd(operations.GetType(), t =>
            t.GetProperty("Mode", BindingFlags.Instance | BindingFlags.Public) is { } p && p.PropertyType == typeof(ShardExecutionMode) ? p : null);
        return property?.GetValue(operations) is ShardExecutionMode.Rebuild;
    }
}
