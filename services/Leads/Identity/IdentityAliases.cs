using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Marten;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.EventStore;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace ScoringPlatform.Leads.Identity;

/// <summary>
/// The alias table: one row per stream key (<c>anon:&lt;id&gt;</c> or a merged lead id) linked into a surviving lead.
/// Rows are kept flat (an alias always names a lead that is not itself an alias: a merge re-points the rows that named
/// the merged lead), so resolving a key is one lookup. Written by Ingestion in the transaction that copies the linked
/// stream and appends the link; read by Ingestion (routing) and the Api (answering for a merged id).
/// <para>
/// Writers serialise per key with transaction-scoped advisory locks (<see cref="LockAndResolveAsync"/>), always taken in
/// ascending lock-key order and before any stream row is touched, on every key the transaction appends to or links.
/// </para>
/// </summary>
public static class IdentityAliases
{
    public const string TableName = "identity_aliases";

    public static Table Table(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("alias").AsPrimaryKey();
        table.AddColumn<string>("lead_id").NotNull();
        table.AddColumn("linked_at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        table.AddColumn<Guid>("event_id").NotNull();
        table.Indexes.Add(new IndexDefinition($"ix_{TableName}_lead_id") { Columns = ["lead_id"] });
        return table;
    }

    /// <summary>The stream key of an anonymous id.</summary>
    public static string AnonymousKey(string anonymousId) => EngagementEvent.AnonymousPrefix + anonymousId;

    public static IdentityKind KindOf(string streamKey) =>
        streamKey.StartsWith(EngagementEvent.AnonymousPrefix, StringComparison.Ordinal) ? IdentityKind.Anonymous : IdentityKind.Lead;

    /// <summary>The id of a copy of an event (original producer id <paramref name="sourceEventId"/>) in <paramref name="lead"/>'s stream.</summary>
    public static Guid CopyId(string lead, string sourceEventId) => EventIds.Derived("identity", lead, sourceEventId);

    /// <summary>The id of the <see cref="IdentityLinked"/> event that links <paramref name="linkedKey"/> into <paramref name="lead"/>.</summary>
    public static Guid LinkEventId(string lead, string linkedKey) => EventIds.Derived("identity-link", lead, linkedKey);

    /// <summary>The advisory lock class of a schema (first key of <c>pg_advisory_xact_lock(int, int)</c>).</summary>
    public static int LockClass(string schema) => Hash("identity-lock-class:" + schema);

    /// <summary>The advisory lock of one stream key within <see cref="LockClass"/>.</summary>
    public static int LockKey(string streamKey) => Hash(streamKey);

    private static int Hash(string text) => BinaryPrimitives.ReadInt32BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>
    /// Locks every key (transaction-scoped, ascending lock-key order so two writers never wait on each other in a
    /// circle), then reads their aliases in the same round trip, after the locks are held.
    /// </summary>
    public static async Task<Dictionary<string, string>> LockAndResolveAsync(
        NpgsqlConnection connection, string schema, IReadOnlyCollection<string> lockKeys, IReadOnlyCollection<string> keys, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(LockCommand(schema, lockKeys));
        batch.BatchCommands.Add(ResolveCommand(schema, keys));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct);
        return await ReadAliasesAsync(reader, ct);
    }

    /// <summary>
    /// Only the locks of <see cref="LockAndResolveAsync"/> (same order), for a writer of lead streams that resolves no
    /// aliases, e.g. the lifecycle scheduler's clock ticks; the connection must be in the transaction that appends.
    /// </summary>
    public static async Task LockAsync(NpgsqlConnection connection, string schema, IReadOnlyCollection<string> lockKeys, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(LockCommand(schema, lockKeys));
        await batch.ExecuteNonQueryAsync(ct);
    }

    private static NpgsqlBatchCommand LockCommand(string schema, IReadOnlyCollection<string> lockKeys)
    {
        var command = new NpgsqlBatchCommand("select count(pg_advisory_xact_lock(@class, k)) from unnest(@keys) as k");
        command.Parameters.AddWithValue("class", LockClass(schema));
        command.Parameters.AddWithValue("keys", lockKeys.Select(LockKey).Distinct().Order().ToArray());
        return command;
    }

    /// <summary>The surviving lead of each key that is an alias (keys that are not are absent).</summary>
    public static async Task<Dictionary<string, string>> ResolveAsync(
        NpgsqlConnection connection, string schema, IReadOnlyCollection<string> keys, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(ResolveCommand(schema, keys));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        return await ReadAliasesAsync(reader, ct);
    }

    /// <summary>
    /// Queues, in <paramref name="session"/>'s unit of work (committed with the events it appends), the row linking
    /// <paramref name="alias"/> into <paramref name="lead"/> and the re-pointing of the aliases that named it.
    /// </summary>
    public static void QueueLink(IDocumentSession session, string schema, string alias, string lead, Guid eventId)
    {
        session.QueueSqlCommand($"insert into {schema}.{TableName} (alias, lead_id, event_id) values (?, ?, ?)", alias, lead, eventId);
        session.QueueSqlCommand($"update {schema}.{TableName} set lead_id = ? where lead_id = ?", lead, alias);
    }

    /// <summary>The lead <paramref name="key"/> was linked into, or null when it is not an alias (read side: the Api).</summary>
    public static async Task<string?> SurvivorOfAsync(IQuerySession session, string schema, string key, CancellationToken ct)
    {
        var leads = await session.QueryAsync<string>($"select lead_id from {schema}.{TableName} where alias = ?", ct, key);
        return leads.Count > 0 ? leads[0] : null;
    }

    private static NpgsqlBatchCommand ResolveCommand(string schema, IReadOnlyCollection<string> keys)
    {
        var command = new NpgsqlBatchCommand($"select alias, lead_id from {schema}.{TableName} where alias = any(@keys)");
        command.Parameters.AddWithValue("keys", keys.ToArray());
        return command;
    }

    private static async Task<Dictionary<string, string>> ReadAliasesAsync(NpgsqlDataReader reader, CancellationToken ct)
    {
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct)) aliases[reader.GetString(0)] = reader.GetString(1);
        return aliases;
    }
}
