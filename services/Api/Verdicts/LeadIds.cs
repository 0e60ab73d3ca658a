using ScoringPlatform.Contracts;

namespace ScoringPlatform.Api.Verdicts;

/// <summary>Lead ids the Api accepts: exactly those the ingestion edge stores (<see cref="EngagementEventRules"/>).</summary>
public static class LeadIds
{
    public const int MaxLength = EngagementEventRules.MaxIdLength;

    /// <summary>Why a lead id is unusable, or null when it is fine.</summary>
    public static string? Problem(string? leadId)
    {
        if (string.IsNullOrWhiteSpace(leadId)) return "lead_id is required";
        return EngagementEventRules.IdentifierProblem(leadId) is { } problem ? "lead_id " + problem : null;
    }
}
