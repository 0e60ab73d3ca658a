using System.Text.Json.Serialization;

namespace ScoringPlatform.Scoring;

// The model document (JSON). Loaded with ScoringModelLoader, which validates it and builds the lookups.

public sealed class ScoringModel
{
    public string Id { get; init; } = "";
    public int Version { get; init; }
    public string? Description { get; init; }
    public ThresholdSettings Thresholds { get; init; } = new();
    public TierSettings Tiers { get; init; } = new();
    public GradeSettings Grades { get; init; } = new();
    /// <summary>Events kept per lead for exact verdicts as of an instant before the newest event.</summary>
    public int HistorySize { get; init; } = 64;
    public List<RuleGroup> Groups { get; init; } = [];
    public List<EngagementRule> Engagement { get; init; } = [];
    public List<ProfileRule> Fit { get; init; } = [];
    public List<ProfileRule> Negative { get; init; } = [];
    public List<HardRule> HardRules { get; init; } = [];
    public Dictionary<string, List<string>> Lists { get; init; } = [];

    private static readonly Lazy<ScoringModel> DefaultModel = new(() =>
    {
        using var stream = typeof(ScoringModel).Assembly.GetManifestResourceStream("default-model.json")
            ?? throw new InvalidOperationException("default-model.json is not embedded");
        using var reader = new StreamReader(stream);
        return ScoringModelLoader.Parse(reader.ReadToEnd());
    });

    /// <summary>The built-in default model (Models/default-model.json).</summary>
    public static ScoringModel Default => DefaultModel.Value;

    // Built by the loader.
    [JsonIgnore] internal Dictionary<(string Type, string? Category), int> RuleIndex { get; set; } = [];
    [JsonIgnore] internal int[] RuleGroup { get; set; } = [];
    [JsonIgnore] internal double[] GroupHalfLifeTicks { get; set; } = [];
    [JsonIgnore] internal int UnsubscribeRule { get; set; } = -1;
    [JsonIgnore] internal Dictionary<string, HashSet<string>> ListSets { get; set; } = [];
    [JsonIgnore] internal int[] HotRules { get; set; } = [];
    [JsonIgnore] internal int[] HotCombination { get; set; } = [];

    internal int RuleCount => Engagement.Count;
}

public sealed class ThresholdSettings
{
    public double Enter { get; init; } = 50;
    public double Exit { get; init; } = 40;
}

public sealed class TierSettings
{
    /// <summary>Fit below this makes an MQL an MQL-Light (engagement without fit: nurture).</summary>
    public double MinFitForMql { get; init; } = 20;
    /// <summary>Any of these rules seen (with fit) makes a Hot MQL, e.g. a demo request.</summary>
    public List<string> HotRuleIds { get; init; } = [];
    /// <summary>All of these rules seen (with fit) make a Hot MQL, e.g. pricing page + a sales interaction.</summary>
    public HotCombination? HotCombination { get; init; }
}

public sealed class HotCombination
{
    public List<string> All { get; init; } = [];
}

public sealed class GradeSettings
{
    /// <summary>Minimum fit score for grades A, B, C (below C: D).</summary>
    public Dictionary<string, double> Fit { get; init; } = new() { ["A"] = 30, ["B"] = 20, ["C"] = 10 };
    /// <summary>Minimum engagement score for bands 1, 2, 3 (below 3: band 4).</summary>
    public Dictionary<string, double> Engagement { get; init; } = new() { ["1"] = 40, ["2"] = 25, ["3"] = 10 };
}

public sealed class RuleGroup
{
    public string Id { get; init; } = "";
    public double HalfLifeDays { get; init; } = 30;
    /// <summary>Most points the group contributes (after decay); null = uncapped.</summary>
    public double? Cap { get; init; }
}

public sealed class EngagementRule
{
    public string Id { get; init; } = "";
    public string EventType { get; init; } = "";
    /// <summary>Page category / form type; null matches any category not matched by a more specific rule.</summary>
    public string? Category { get; init; }
    public double Points { get; init; }
    public string Group { get; init; } = "";
    /// <summary>Most times one activity (an email, a page, a piece of content) counts per UTC day; null = no cap.</summary>
    public int? DailyCapPerActivity { get; init; }
}

/// <summary>A fit or negative rule over the profile (or, for negative rules, an event type that sets a flag).</summary>
public sealed class ProfileRule
{
    public string Id { get; init; } = "";
    /// <summary>jobTitle, companySize, industry, country, budgetAuthority, emailDomain.</summary>
    public string? Field { get; init; }
    /// <summary>Case-insensitive keywords/values; a title matches when it contains one, other fields when equal.</summary>
    public List<string>? AnyOf { get; init; }
    /// <summary>Name of a list in <see cref="ScoringModel.Lists"/> to match against (same matching as AnyOf).</summary>
    public string? List { get; init; }
    public double? Min { get; init; }
    public double? Max { get; init; }
    /// <summary>Negative rules only: an event type whose occurrence applies the points (e.g. unsubscribed).</summary>
    public string? EventType { get; init; }
    public double Points { get; init; }
}

public sealed class HardRule
{
    public string Id { get; init; } = "";
    /// <summary><c>exclude</c>: disqualifies when matched. <c>mustHave</c>: disqualifies when the field is missing or not matched.</summary>
    public string Kind { get; init; } = "exclude";
    public string Field { get; init; } = "";
    public string? List { get; init; }
    /// <summary>Exclude when the field is known and NOT in this list (e.g. outside the target regions).</summary>
    public string? NotInList { get; init; }
    public string Reason { get; init; } = "";
}
