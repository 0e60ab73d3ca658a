namespace ScoringPlatform.Api.Verdicts;

public static class LeadIds
{
    public const int MaxLength = 200;

    /// <summary>Why a lead id is unusable, or null when it is fine.</summary>
    public static string? Problem(string? leadId)
    {
        if (string.IsNullOrWhiteSpace(leadId)) return "lead_id is required";
        if (leadId.Length > MaxLength) return $"lead_id is longer than {MaxLength} characters";
        if (leadId.Any(char.IsControl)) return "lead_id contains control characters";
        if (leadId != leadId.Trim()) return "lead_id has leading or trailing whitespace";
        return null;
    }
}
