using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>Translates a validated wire envelope into the event stored in the lead's stream.</summary>
public static class EngagementMapper
{
    public static object ToDomainEvent(EngagementEvent e)
    {
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
}
