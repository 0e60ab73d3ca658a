using Marten;
using Npgsql;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>
/// The appends and alias changes of one ingestion transaction, built while its keys are locked
/// (<see cref="IdentityAliases.LockAndResolveAsync"/>) and saved in one <see cref="IDocumentSession.SaveChangesAsync"/>:
/// Marten's batch carries the alias rows too (<see cref="IDocumentOperations.QueueSqlCommand(string, object[])"/>), so
/// the links, copies and events commit together or not at all.
/// </summary>
internal sealed class AppendPlan(IDocumentSession session, string schema, Dictionary<string, string> aliases, bool setBased, bool copy = false)
{
    private readonly List<Planned> _appends = [];
    private readonly HashSet<Guid> _ids = [];

    private sealed record Planned(string Stream, Guid Id, object Data, string? TraceParent);

    /// <summary>The lead a key's events go to: the lead it is linked into, or the key itself.</summary>
    public string Resolve(string key) => aliases.TryGetValue(key, out var lead) ? lead : key;

    public string? AliasOf(string key) => aliases.GetValueOrDefault(key);

    /// <summary>Plans an append; false when the same id is already planned.</summary>
    public bool Add(string stream, Guid id, object data, string? traceParent)
    {
        if (!_ids.Add(id)) return false;
        _appends.Add(new Planned(stream, id, data, traceParent));
        return true;
    }

    /// <summary>
    /// Links <paramref name="keys"/> (decided by <see cref="IdentityLinks.Decide"/>) into <paramref name="survivor"/>:
    /// copies each key's engagement and profile events (and the links it holds, for a merged lead) under the id a routed
    /// event would get (<see cref="IdentityAliases.CopyId"/> of the ORIGINAL producer id), records one
    /// <see cref="IdentityLinked"/> per linked stream (one per identity when none of its keys has a stream yet), marks the
    /// linked stream <see cref="MergedInto"/>, and writes the alias rows, re-pointing those that named a merged lead.
    /// </summary>
    public async Task LinkAsync(string survivor, IdentityLinkRequest request, IReadOnlyList<string> keys, string? traceParent, CancellationToken ct)
    {
        foreach (var candidate in request.Identities)
        {
            var linkedKeys = candidate.Keys.Where(k => keys.Contains(k, StringComparer.Ordinal)).ToList();
            if (linkedKeys.Count == 0) continue;
            var linkEvents = new List<(string Key, Guid Id, IdentityLinked Event)>();
            foreach (var key in linkedKeys)
            {
                var stream = await StreamAsync(key, ct);
                if (stream.Count == 0) continue;
                var copied = 0;
                foreach (var data in stream)
                {
                    switch (data)
                    {
                        case EngagementRecorded r when Add(survivor, IdentityAliases.CopyId(survivor, r.SourceEventId), r, traceParent):
                        case ProfileUpdated p when Add(survivor, IdentityAliases.CopyId(survivor, p.SourceEventId), p, traceParent):
                            copied++;
                            break;
                        case IdentityLinked l:
                            // A merged lead's own links move with it: the survivor lists them too.
                            Add(survivor, IdentityAliases.LinkEventId(survivor, l.LinkedKey), l, traceParent);
                            break;
                    }
                }

                linkEvents.Add((key, IdentityAliases.LinkEventId(survivor, key),
                    new IdentityLinked(key, candidate.Id, IdentityAliases.KindOf(key), request.SourceEventId, request.OccurredAt, copied)));
                Add(key, EventIds.Derived("merged-into", key, survivor), new MergedInto(survivor, request.SourceEventId, request.OccurredAt), traceParent);
            }

            if (linkEvents.Count == 0)
            {
                // Nothing stored under the identity yet (identify before the first anonymous event): the link is a fact all the same.
                var key = linkedKeys[0];
                linkEvents.Add((key, IdentityAliases.LinkEventId(survivor, key),
                    new IdentityLinked(key, candidate.Id, IdentityAliases.KindOf(key), request.SourceEventId, request.OccurredAt, 0)));
            }

            foreach (var (_, id, linked) in linkEvents) Add(survivor, id, linked, traceParent);
            foreach (var key in linkedKeys)
            {
                // The link event of this key, else the identity's one link event (none of its keys had a stream yet).
                var own = linkEvents.FirstOrDefault(l => l.Key == key).Id;
                IdentityAliases.QueueLink(session, schema, key, survivor, own != Guid.Empty ? own : linkEvents[0].Id);
                foreach (var (alias, lead) in aliases.ToList())
                {
                    if (lead == key) aliases[alias] = survivor;
                }

                aliases[key] = survivor;
            }
        }
    }

    /// <summary>The event data of a stream: what is stored, then what this transaction plans to append to it.</summary>
    private async Task<List<object>> StreamAsync(string key, CancellationToken ct)
    {
        var stored = await session.Events.FetchStreamAsync(key, token: ct);
        var data = stored.Select(e => e.Data).ToList();
        data.AddRange(_appends.Where(a => a.Stream == key).Select(a => a.Data));
        return data;
    }

    /// <summary>Drops the planned ids already stored, appends the rest and commits; returns the ids stored.</summary>
    public async Task<HashSet<Guid>> SaveAsync(CancellationToken ct)
    {
        if (setBased)
        {
            // Stream by stream in first-appearance order, as Marten's append of the groups below numbers them.
            var rows = _appends.GroupBy(a => a.Stream).SelectMany(g => g).Select(a => new EventRow(a.Stream, a.Id, a.Data, a.TraceParent)).ToList();
            var stored = copy
                ? await SetBasedAppend.CopyAsync(session, schema, rows, ct)
                : await SetBasedAppend.AppendAsync(session, schema, rows, ct);
            // Commits the alias rows and the NOTIFY with the events (nothing queued: nothing stored, the locks go with the rollback).
            await session.SaveChangesAsync(ct);
            return stored;
        }

        var existing = new HashSet<Guid>();
        if (_appends.Count > 0)
        {
            await using var command = new NpgsqlCommand($"select id from {schema}.mt_events where id = any(@ids)", session.Connection);
            command.Parameters.AddWithValue("ids", _appends.Select(a => a.Id).ToArray());
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) existing.Add(reader.GetGuid(0));
        }

        var fresh = _appends.Where(a => !existing.Contains(a.Id)).ToList();
        foreach (var stream in fresh.GroupBy(a => a.Stream))
        {
            var items = stream.ToArray();
            var action = session.Events.Append(stream.Key, items.Select(a => a.Data).ToArray());
            for (var i = 0; i < items.Length; i++)
            {
                var stored = action.Events[i];
                stored.Id = items[i].Id;
                if (items[i].TraceParent is { } traceParent) stored.SetHeader(EventHeaders.TraceParent, traceParent);
            }
        }

        // Commits the transaction the caller began (nothing queued: nothing to commit, the locks go with the rollback).
        await session.SaveChangesAsync(ct);
        return fresh.Select(a => a.Id).ToHashSet();
    }
}
