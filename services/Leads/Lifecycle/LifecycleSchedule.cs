using Marten;
using ScoringPlatform.Leads.EventStore;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace ScoringPlatform.Leads.Lifecycle;

/// <summary>
/// The durable schedule of time-driven lifecycle changes: one row per lead that has one due (decay exit, tier
/// drop, SLA deadline), indexed by due instant. The score projection writes a lead's row in the same transaction
/// as its view (upsert to the next due instant, delete when nothing is due); the Projections service's scheduler
/// reads the rows that are due (an index range, never a scan of every lead), appends a
/// <see cref="LifecycleClockTicked"/> to the lead's stream with a deterministic id, and deletes the row if it
/// still holds the instant it worked.
/// </summary>
public static class LifecycleSchedule
{
    public const string TableName = "lifecycle_schedule";

    /// <summary>NOTIFY channel the projection signals when it writes a row, so the scheduler re-reads the earliest due.</summary>
    public static string Channel(string schema) => $"{schema}_lifecycle_schedule";

    public static Table Table(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("lead_id").AsPrimaryKey();
        table.AddColumn("due_at", "timestamptz").NotNull();
        table.AddColumn("updated_at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_due_at") { Columns = ["due_at"] });
        return table;
    }

    /// <summary>The id of the clock tick for a lead at a due instant: the same for every scheduler replica and retry.</summary>
    public static Guid TickEventId(string leadId, DateTimeOffset dueAt) =>
        EventIds.Derived(nameof(LifecycleClockTicked), leadId, dueAt.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// A due instant as the table stores it: rounded up to PostgreSQL's microsecond (Npgsql truncates the rest).
    /// Rounding down would date the tick just short of the computed instant: the projection would advance to it, find
    /// nothing due yet, schedule the same truncated instant again, and its tick id would already be taken.
    /// </summary>
    public static DateTimeOffset? StoredInstant(DateTimeOffset? due) => due is { } d ? CeilingToMicrosecond(d) : null;

    public static DateTimeOffset CeilingToMicrosecond(DateTimeOffset at)
    {
        var ticks = at.UtcTicks;
        var rest = ticks % TimeSpan.TicksPerMicrosecond;
        return new DateTimeOffset(rest == 0 ? ticks : ticks - rest + TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);
    }

    /// <summary>Queues, in the caller's unit of work, the lead's next due instant (null: nothing due, the row goes).</summary>
    public static void Enqueue(IDocumentOperations operations, string schema, string leadId, DateTimeOffset? dueAt)
    {
        if (dueAt is { } due)
        {
            // Statements that return no rows (Marten reads a batch's results by position), NOTIFY folded in.
            operations.QueueSqlCommand(
                $"insert into {schema}.{TableName} (lead_id, due_at) " +
                $"select ?, ? from (select pg_notify('{Channel(schema)}', '')) as wake " +
                "on conflict (lead_id) do update set due_at = excluded.due_at, updated_at = now() " +
                $"where {schema}.{TableName}.due_at is distinct from excluded.due_at",
                leadId, CeilingToMicrosecond(due));
        }
        else
        {
            operations.QueueSqlCommand($"delete from {schema}.{TableName} where lead_id = ?", leadId);
        }
    }
}
