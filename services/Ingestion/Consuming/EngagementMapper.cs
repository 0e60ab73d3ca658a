using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.Identity;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>Translates a validated wire envelope into the event stored in the lead's stream.</summary>
public static class EngagementMapper
{
    /// <summary>The event stored in the lead's stream, or, for <c>identity_linked</c>, the link request (nothing is stored as such).</summary>
    public static object ToDomainEvent(EngagementEvent e)
    {
        if (e.Type == EngagementEventTypes.IdentityLinked) return LinkOf(e)!;
        if (e.Type == EngagementEventTypes.ProfileUpdated)
        {
            var t = e.Traits!;
            return new ProfileUpdated(e.Id, e.OccurredAt, t.Email, t.JobTitle, t.CompanySize, t.Industry, t.Country,
                t.BudgetAuthority, e.Source);
        }

        var category = e.Type switch
        {
            EngagementEventTypes.PageViewed => e.Property("category"),
            EngagementEventTypes.FormSubmitted => e.Property("formType"),
            EngagementEventTypes.CustomEvent => e.Property("eventName"),
            _ => null,
        };
        // The activity a frequency cap counts per day: the email, the piece of content, the webinar, the page.
        var activityKey = e.Property("emailId") ?? e.Property("contentId") ?? e.Property("webinarId") ?? e.Property("url");
        return new EngagementRecorded(e.Id, e.Type, e.OccurredAt, category, activityKey, e.Source, e.Campaign);
    }

    /// <summary>
    /// The identities the event links to its lead: <c>identity_linked</c> (anonymousId and/or properties.previousId),
    /// or a <c>profile_updated</c> carrying both leadId and anonymousId (Segment's identify). Null for anything else.
    /// </summary>
    public static IdentityLinkRequest? LinkOf(EngagementEvent e)
    {
        if (e.LeadId is not { Length: > 0 }) return null;
        var candidates = new List<LinkCandidate>(2);
        if (e.Type is EngagementEventTypes.IdentityLinked or EngagementEventTypes.ProfileUpdated && e.AnonymousId is { Length: > 0 } anonymousId)
        {
            candidates.Add(LinkCandidate.Anonymous(anonymousId));
        }

        if (e.Type == EngagementEventTypes.IdentityLinked && e.Property("previousId") is { Length: > 0 } previousId && previousId != e.AnonymousId)
        {
            candidates.Add(LinkCandidate.Previous(previousId));
        }

        return candidates.Count == 0 ? null : new IdentityLinkRequest(e.Id, e.OccurredAt, candidates);
    }
}
