using ScoringPlatform.Scoring.Lifecycle;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

internal static class LifecycleTestData
{
    public static LeadInput Engagement(ScoringEvent e) => new EngagementInput(e);

    public static LeadInput Profile(DateTimeOffset at, LeadProfile profile, string id) => new ProfileInput(id, at, profile);

    public static LeadInput Sales(
        SalesActionKind kind, DateTimeOffset at, string key, string? reason = null, LifecycleStage? expected = null, decimal? amount = null) =>
        new SalesInput(new SalesAction(kind, "rep@acme.com", at, key, reason, expected, amount));

    /// <summary>Records the inputs one by one in the given arrival order, as a projection would.</summary>
    public static LeadLifecycle Incremental(IEnumerable<LeadInput> arrival, ScoringModel? model = null)
    {
        model ??= ScoringModel.Default;
        var lead = LeadLifecycle.Create(model);
        foreach (var input in arrival) LeadTimeline.Record(lead, input, model);
        return lead;
    }
}
