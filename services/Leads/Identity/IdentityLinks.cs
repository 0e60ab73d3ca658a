namespace ScoringPlatform.Leads.Identity;

/// <summary>
/// A request to link identities into a lead, translated from the wire (an <c>identity_linked</c>, or a
/// <c>profile_updated</c> carrying both ids). Not stored: Ingestion turns it into <see cref="IdentityLinked"/> events,
/// copies and alias rows.
/// </summary>
public sealed record IdentityLinkRequest(string SourceEventId, DateTimeOffset OccurredAt, IReadOnlyList<LinkCandidate> Identities)
{
    /// <summary>Every stream key the request links.</summary>
    public IEnumerable<string> Keys => Identities.SelectMany(i => i.Keys);
}

/// <summary>
/// One identity as sent and the stream keys it may be: an anonymous id is <c>anon:&lt;id&gt;</c>; a Segment
/// <c>previousId</c> may be an anonymous id or a lead id, so both keys are linked (whichever streams exist are copied).
/// </summary>
public sealed record LinkCandidate(string Id, IReadOnlyList<string> Keys)
{
    public static LinkCandidate Anonymous(string anonymousId) => new(anonymousId, [IdentityAliases.AnonymousKey(anonymousId)]);

    public static LinkCandidate Previous(string previousId) => new(previousId, [IdentityAliases.AnonymousKey(previousId), previousId]);
}

/// <summary>What a link request comes to against the current aliases (pure).</summary>
public abstract record LinkDecision
{
    /// <summary>Link these keys (none: every key is already linked to the lead, the request is a no-op).</summary>
    public sealed record Link(IReadOnlyList<string> Keys) : LinkDecision;

    /// <summary>The request contradicts the links already made; nothing changes.</summary>
    public sealed record Refused(string Reason) : LinkDecision;
}

public static class IdentityLinks
{
    /// <summary>
    /// Decides a link of <paramref name="request"/>'s keys into <paramref name="lead"/>, which resolves to
    /// <paramref name="survivor"/> (itself, or the lead it was merged into). A key already linked to the survivor is
    /// skipped (idempotent); a key that is the survivor (a link back into a lead merged into it) would form a cycle; a
    /// key linked to another lead conflicts (an identity belongs to one lead). Either refuses the whole request.
    /// </summary>
    public static LinkDecision Decide(string lead, string survivor, IdentityLinkRequest request, Func<string, string?> aliasOf)
    {
        var keys = new List<string>();
        foreach (var candidate in request.Identities)
        {
            foreach (var key in candidate.Keys)
            {
                if (key == survivor)
                {
                    return new LinkDecision.Refused(lead == survivor
                        ? $"'{candidate.Id}' is the lead '{lead}' itself; a lead cannot be linked to itself"
                        : $"lead '{lead}' was merged into '{survivor}'; linking '{candidate.Id}' into it would form a cycle");
                }

                var current = aliasOf(key);
                if (current == survivor || keys.Contains(key, StringComparer.Ordinal)) continue;
                if (current is not null)
                {
                    return new LinkDecision.Refused(
                        $"'{candidate.Id}' ({key}) is already linked to lead '{current}'; an identity belongs to one lead (merge the leads instead)");
                }

                keys.Add(key);
            }
        }

        return new LinkDecision.Link(keys);
    }
}
