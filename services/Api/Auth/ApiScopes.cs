namespace ScoringPlatform.Api.Auth;

/// <summary>
/// What an API key may do, one scope per gRPC service (and its REST mirror). Policies carry the scope's name, so
/// <c>[Authorize(Policy = ApiScopes.VerdictsRead)]</c> on a service reads as the scope it needs.
/// </summary>
public static class ApiScopes
{
    /// <summary>LeadScoring: verdicts and explanations.</summary>
    public const string VerdictsRead = "verdicts:read";

    /// <summary>LeadQueries: lead lists and timelines.</summary>
    public const string LeadsRead = "leads:read";

    /// <summary>SalesFeedback: recording sales actions (writes to the lead's stream).</summary>
    public const string FeedbackWrite = "feedback:write";

    /// <summary>Every scope (an operator's or the development key). <c>admin</c> is accepted as a synonym.</summary>
    public const string All = "*";

    public const string ClaimType = "scope";

    public static readonly IReadOnlyList<string> PerService = [VerdictsRead, LeadsRead, FeedbackWrite];

    /// <summary>The scope as stored, or null when unknown (a typo must fail the start, not silently grant nothing).</summary>
    public static string? Normalize(string scope) => scope.Trim() switch
    {
        "*" or "admin" => All,
        var s when PerService.Contains(s) => s,
        _ => null,
    };
}
