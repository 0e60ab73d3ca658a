using System.Diagnostics.Metrics;
using Marten;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>One event to append: the lead stream, its idempotency id, the stored event and its trace context.</summary>
/// <remarks>
/// <see cref="Link"/>: identities the message links to the lead (an identify or alias). For <c>identity_linked</c>
/// <see cref="Data"/> is that <see cref="IdentityLinkRequest"/> itself and nothing else is stored for the message.
/// </remarks>
public sealed record PendingEvent(string StreamKey, Guid EventId, object Data, string? TraceParent)
{
    public IdentityLinkRequest? Link { get; init; } = Data as IdentityLinkRequest;
}

/// <summary>An event the store refused deterministically, with the reason (PostgreSQL's SQLSTATE and message, or why a link was refused).</summary>
public sealed record StoreRejection(PendingEvent Event, string Reason)
{
    /// <summary>The dead-letter error code.</summary>
    public string Code { get; init; } = RejectionCodes.StoreRejected;
}

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
public sealed partial class EngagementAppender(
    IDocumentStore store, IOptions<EventStoreOptions> options, IOptions<IngestionOptions> ingestion, StoreResilience resilience,
    ILogger<EngagementAppender>? logger = null)
{
    private static readonly Counter<long> IdentityConflicts = ServiceDefaults.PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.ingestion.identify.links_refused", "{message}", "Identifies stored without their link: the anonymous id belongs to another lead");

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

        AppendResult result;
        try
        {
            result = await AppendResolvedAsync(unique, ct);
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            // A writer outside the identity locks stored one of the ids meanwhile: one event per transaction.
            var results = new List<AppendResult>(unique.Count);
            foreach (var e in unique)
            {
                try
                {
                    results.Add(await AppendResolvedAsync([e], ct));
                }
                catch (Exception one) when (IsUniqueViolation(one))
                {
                    results.Add(new AppendResult(0, 1));
                }
            }

            result = AppendResult.Sum(results);
        }

        return result with { Duplicates = result.Duplicates + batch.Count - unique.Count };
    }

    /// <summary>
    /// One transaction: lock every key it touches (see <see cref="IdentityAliases"/>), resolve aliases, apply the links
    /// (copy, alias row, <see cref="IdentityLinked"/> and <see cref="MergedInto"/>), route each event to its lead's
    /// stream under the id it gets there, drop ids already stored, append, commit. A crash anywhere before the commit
    /// leaves nothing; the redelivered batch does the same work again.
    /// </summary>
    private async Task<AppendResult> AppendResolvedAsync(IReadOnlyList<PendingEvent> events, CancellationToken ct)
    {
        var schema = options.Value.Schema;
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            keys.Add(e.StreamKey);
            if (e.Link is { } link) keys.UnionWith(link.Keys);
        }

        var lockKeys = new HashSet<string>(keys, StringComparer.Ordinal);
        while (true)
        {
            await using var session = store.LightweightSession();
            await session.BeginTransactionAsync(ct);
            var connection = session.Connection!;
            // Read unlocked first to know which leads the keys route to: those are locked too, in the same sorted pass.
            lockKeys.UnionWith((await IdentityAliases.ResolveAsync(connection, schema, keys, ct)).Values);
            var aliases = await IdentityAliases.LockAndResolveAsync(connection, schema, lockKeys, keys, ct);
            if (aliases.Values.Any(lead => !lockKeys.Contains(lead)))
            {
                // A link committed between the two reads: start again with its lead locked as well (no lock is taken out of order).
                lockKeys.UnionWith(aliases.Values);
                continue;
            }

            var plan = new AppendPlan(session, schema, aliases, ingestion.Value.SetBasedAppend, ingestion.Value.CopyEvents);
            var rejected = new List<StoreRejection>();
            var linked = new HashSet<Guid>();
            // Links first: an event of the batch under a key the batch links is then routed like a later one, and gets
            // the id a copy would have given it, so the order inside a batch does not matter either.
            foreach (var e in events)
            {
                if (e.Link is not { } link) continue;
                var survivor = plan.Resolve(e.StreamKey);
                switch (IdentityLinks.Decide(e.StreamKey, survivor, link, plan.AliasOf))
                {
                    case LinkDecision.Refused refused when e.Data is IdentityLinkRequest:
                        rejected.Add(new StoreRejection(e, refused.Reason) { Code = RejectionCodes.IdentityConflict });
                        break;
                    case LinkDecision.Refused refused:
                        // An identify whose anonymous id already belongs to another lead (a shared browser): the profile is
                        // the lead's all the same and is stored; only the link is left out, logged and counted.
                        IdentityConflicts.Add(1);
                        LogIdentifyLinkRefused(logger ?? NullLogger<EngagementAppender>.Instance, e.StreamKey, refused.Reason);
                        break;
                    case LinkDecision.Link { Keys.Count: > 0 } apply:
                        await plan.LinkAsync(survivor, link, apply.Keys, e.TraceParent, ct);
                        linked.Add(e.EventId);
                        break;
                }
            }

            var refusedIds = rejected.Select(r => r.Event.EventId).ToHashSet();
            var routed = new Dictionary<Guid, Guid>();
            foreach (var e in events)
            {
                if (e.Data is IdentityLinkRequest || refusedIds.Contains(e.EventId)) continue;
                var lead = plan.Resolve(e.StreamKey);
                var id = lead == e.StreamKey ? e.EventId : IdentityAliases.CopyId(lead, SourceIdOf(e.Data));
                plan.Add(lead, id, e.Data, e.TraceParent);
                routed[e.EventId] = id;
            }

            var stored = await plan.SaveAsync(ct);
            var accepted = events.Count - rejected.Count;
            var appended = events.Count(e => !refusedIds.Contains(e.EventId)
                && (linked.Contains(e.EventId) || (routed.TryGetValue(e.EventId, out var id) && stored.Contains(id))));
            var result = new AppendResult(appended, accepted - appended);
            return rejected.Count > 0 ? result with { Rejected = rejected } : result;
        }
    }

    private static string SourceIdOf(object data) => data switch
    {
        EngagementRecorded r => r.SourceEventId,
        ProfileUpdated p => p.SourceEventId,
        _ => throw new InvalidOperationException($"{data.GetType().Name} cannot be routed to another lead's stream"),
    };

    private static bool IsUniqueViolation(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: UniqueViolation }) return true;
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Identify of lead {LeadId}: profile stored, link refused: {Reason}")]
    private static partial void LogIdentifyLinkRefused(ILogger logger, string leadId, string reason);
}
