using JasperFx.Events;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;

namespace ScoringPlatform.Leads.Lifecycle;

/// <summary>Stored lead events as the lifecycle library sees them (the projection and the Api's feedback checks use this one mapping).</summary>
public static class LeadEventInputs
{
    /// <summary>The lifecycle input of a stored event, or null for events that are not inputs (clock ticks, legacy types).</summary>
    public static LeadInput? From(object data) => data switch
    {
        EngagementRecorded r => new EngagementInput(new ScoringEvent(r.SourceEventId, r.Type, r.OccurredAt, r.Category, r.ActivityKey)),
        ProfileUpdated p => new ProfileInput(p.SourceEventId, p.OccurredAt,
            new LeadProfile(p.Email, p.JobTitle, p.CompanySize, p.Industry, p.Country, p.BudgetAuthority)),
        SalesFeedbackRecorded s => new SalesInput(s.ToAction()),
        _ => null,
    };

    /// <summary>Records one stored event into the lead's lifecycle: an input, or a scheduler tick moving the clock.</summary>
    public static LifecycleUpdate? Record(LeadLifecycle lifecycle, IEvent e, ScoringModel model) => e.Data switch
    {
        LifecycleClockTicked tick => LeadTimeline.AdvanceTo(lifecycle, tick.DueAt, model),
        _ when From(e.Data) is { } input => LeadTimeline.Record(lifecycle, input, model),
        _ => null,
    };
}
