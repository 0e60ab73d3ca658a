using System.Text.Json;
using Marten;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.EventStore;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace ScoringPlatform.Leads.Lifecycle;

/// <summary>
/// The lifecycle outbox: one row per stage transition, written by the score projection in the same
/// transaction as the score view that changed, and relayed to Kafka by the Projections service.
/// <para>
/// Why a table and not an event in the lead's stream: ingestion appends to the lead streams, so a
/// projection append raced it (<c>EventStreamUnexpectedMaxEventIdException</c>: the whole page rolled back
/// and the shard paused), and an event appended inside a long projection transaction holds a sequence
/// number the daemon's high-water mark may skip as a gap before it commits. A row keyed by a
/// deterministic message id has neither problem: nothing else writes it, it takes no event sequence, and
/// a page that is re-run after a failure writes the same id (<c>on conflict do nothing</c>).
/// </para>
/// </summary>
public static class LifecycleOutbox
{
    public const string TableName = "lifecycle_outbox";

    /// <summary>NOTIFY channel the projection signals on commit, so the relay does not wait for its poll.</summary>
    public static string Channel(string schema) => $"{schema}_lifecycle_outbox";

    /// <summary>The table, created and migrated with the rest of the Marten schema.</summary>
    public static Table Table(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, SchemaUtils.IdentifierUsage.General));
        // Relay order: rows of one lead are written by one projection shard in page order.
        table.AddColumn<long>("position").AsPrimaryKey().BigAutoIncrement();
        table.AddColumn<Guid>("message_id").NotNull().AddIndex(i => i.IsUnique = true);
        table.AddColumn<string>("lead_id").NotNull();
        table.AddColumn<string>("message_type").NotNull();
        table.AddColumn("payload", "jsonb").NotNull();
        table.AddColumn<string>("trace_parent");
        table.AddColumn<string>("model_id");
        table.AddColumn<int>("model_version");
        table.AddColumn("created_at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        table.AddColumn("published_at", "timestamptz");
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_unpublished")
        {
            Columns = ["position"],
            Predicate = "published_at is null",
        });
        // A lead's newest transitions (NewestOfLeadSql, the Api's timeline). Without it PostgreSQL scanned the whole
        // outbox for each timeline: 76 ms at 296k rows, growing with every transition ever written (the outbox keeps
        // them all); 0.26 ms with it, for a 14 MB index. A schema that predates it gets it from the owner's migration on
        // start, built while the outbox waits for its writes (0.5 s at 296k rows).
        table.Indexes.Add(new IndexDefinition(LeadIndexName) { Columns = ["lead_id", "position"] });
        return table;
    }

    public const string LeadIndexName = $"ix_{TableName}_lead";

    /// <summary>A lead's newest rows' payloads, newest first (parameters: the lead id, how many), through <see cref="LeadIndexName"/>.</summary>
    public static string NewestOfLeadSql(string schema) =>
        $"select payload::text from {schema}.{TableName} where lead_id = ? order by position desc limit ?";

    /// <summary>
    /// The message id of a transition (or of its retraction): stable for the same lead and transition, so a page
    /// re-run after a failure, or a timeline recomputed by a late event, writes the same id. (Transition ids alone
    /// are not unique across leads: two leads can decay out at the same tick for the same reason.)
    /// </summary>
    public static Guid MessageId(string leadId, string transitionId, bool retraction = false) =>
        EventIds.Derived(retraction ? "lifecycle-retraction" : "lifecycle-transition", leadId, transitionId);

    /// <summary>Queues the row in the caller's unit of work (the projection's page transaction).</summary>
    public static void Enqueue(IDocumentOperations operations, string schema, LeadLifecycleMessage message, string? traceParent)
    {
        var payload = JsonSerializer.Serialize(message, ContractJson.Options);
        // One statement that returns no rows (Marten reads a batch's results by position), with the
        // NOTIFY folded in: PostgreSQL delivers it at commit, so the relay wakes for committed rows only.
        operations.QueueSqlCommand(
            $"insert into {schema}.{TableName} (message_id, lead_id, message_type, payload, trace_parent, model_id, model_version) " +
            $"select ?, ?, ?, ?::jsonb, ?, ?, ? from (select pg_notify('{Channel(schema)}', '')) as wake " +
            "on conflict (message_id) do nothing",
            message.MessageId, message.LeadId, message.Type, payload, (object?)traceParent ?? DBNull.Value, message.ModelId, message.ModelVersion);
    }
}
