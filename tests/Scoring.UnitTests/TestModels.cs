namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>Shared helpers: a fixed clock origin and terse event/profile builders.</summary>
internal static class TestModels
{
    public static readonly DateTimeOffset T0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan HalfLife = TimeSpan.FromDays(30);

    public static ScoringModel Default => ScoringModel.Default;

    private static int _ids;

    public static ScoringEvent Ev(string type, DateTimeOffset at, string? category = null, string? activity = null, string? id = null) =>
        new(id ?? $"e{Interlocked.Increment(ref _ids)}", type, at, category, activity);

    public static ScoringEvent Pricing(DateTimeOffset at, string? page = "/pricing", string? id = null) => Ev("page_viewed", at, "pricing", page, id);
    public static ScoringEvent Demo(DateTimeOffset at, string? id = null) => Ev("form_submitted", at, "demo_request", "demo-form", id);

    /// <summary>Target title + target company size: fit 25, grade B.</summary>
    public static readonly LeadProfile GoodFit = new("ana@acme.com", "VP Marketing", 500, null, null, null);

    /// <summary>Every fit rule: 15 + 10 + 10 + 5 + 5 = 45, grade A.</summary>
    public static readonly LeadProfile PerfectFit = new("ana@acme.com", "Chief Revenue Officer", 800, "Software", "DE", true);

    /// <summary>
    /// A capped group's value by definition: events in time order, each admitted only up to the cap at its instant
    /// (no reservoir), the level decaying in between. Points are (days after T0, points).
    /// </summary>
    public static double Saturated(IEnumerable<(double Days, double Points)> events, double cap, double asOfDays, double halfLifeDays = 30)
    {
        double level = 0, at = double.NegativeInfinity;
        foreach (var (days, points) in events.OrderBy(e => e.Days))
        {
            level = at == double.NegativeInfinity ? 0 : level * Math.Pow(2, -(days - at) / halfLifeDays);
            var admitted = Math.Clamp(Math.Clamp(level + points, -cap, cap) - level, Math.Min(0, points), Math.Max(0, points));
            level += admitted;
            at = days;
        }

        return at == double.NegativeInfinity ? 0 : level * Math.Pow(2, -(asOfDays - at) / halfLifeDays);
    }

    public static LeadScoreState Lead(ScoringModel? model = null, LeadProfile? profile = null, params ScoringEvent[] events)
    {
        model ??= Default;
        var state = LeadScoreState.Create(model);
        if (profile is not null) state.ApplyProfile(profile, model);
        foreach (var e in events) state.Apply(e, model);
        return state;
    }

    public static Verdict Verdict(LeadScoreState state, DateTimeOffset asOf, ScoringModel? model = null) =>
        Scorer.Evaluate(state, model ?? Default, asOf);

    /// <summary>The default model document with a text replacement, parsed (for validation and variant models).</summary>
    public static ScoringModel DefaultWith(string find, string replace) => ScoringModelLoader.Parse(DefaultJsonWith(find, replace));

    public static string DefaultJsonWith(string find, string replace)
    {
        var json = Default.Json;
        json.Should().Contain(find, "the test edits the default model document");
        return json.Replace(find, replace, StringComparison.Ordinal);
    }
}
