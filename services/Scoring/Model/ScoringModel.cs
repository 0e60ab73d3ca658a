using System.Collections.Frozen;

namespace ScoringPlatform.Scoring;

/// <summary>
/// A validated, immutable scoring model: thresholds, rules, groups, lists. Built only by
/// <see cref="ScoringModelLoader"/>, so every instance has passed validation. Shared by all leads and threads.
/// </summary>
public sealed class ScoringModel
{
    private static readonly Lazy<ScoringModel> DefaultModel = new(LoadDefault);

    internal ScoringModel(
        string id,
        int version,
        string? description,
        double enterThreshold,
        double exitThreshold,
        int historySize,
        int frequencyHorizonDays,
        ModelLists lists,
        IReadOnlyList<EngagementGroup> groups,
        IReadOnlyList<EngagementRule> engagementRules,
        IReadOnlyList<ProfileRule> profileRules,
        IReadOnlyList<HardRule> hardRules,
        TierSettings tiers,
        GradeSettings grades,
        string json)
    {
        Id = id;
        Version = version;
        Description = description;
        EnterThreshold = enterThreshold;
        ExitThreshold = exitThreshold;
        HistorySize = historySize;
        FrequencyHorizonDays = frequencyHorizonDays;
        Lists = lists;
        Groups = groups;
        EngagementRules = engagementRules;
        ProfileRules = profileRules;
        HardRules = hardRules;
        Tiers = tiers;
        Grades = grades;
        Json = json;

        GroupInvHalfLifeTicks = groups.Select(g => g.HalfLife is { } h ? 1.0 / h.Ticks : 0.0).ToArray();
        GroupCap = groups.Select(g => g.Cap ?? double.PositiveInfinity).ToArray();
        GroupSameDecayAs = GroupInvHalfLifeTicks.Select(inv => Array.IndexOf(GroupInvHalfLifeTicks, inv)).ToArray();
        RuleGroupIndex = engagementRules.Select(r => IndexOf(groups, r.Group)).ToArray();
        RuleInvHalfLifeTicks = RuleGroupIndex.Select(g => GroupInvHalfLifeTicks[g]).ToArray();
        RulePoints = engagementRules.Select(r => r.Points).ToArray();
        RuleFrequencyCap = engagementRules.Select(r => r.FrequencyCapPerActivityPerDay ?? 0).ToArray();
        MaxInvHalfLifeTicks = GroupInvHalfLifeTicks.DefaultIfEmpty(0).Max();
        HotConditions = tiers.HotAnyOf
            .Select(set => set.Select(id => IndexOfRule(engagementRules, id)).ToArray())
            .ToArray();

        var byType = new Dictionary<string, List<(string? Category, int Rule)>>(StringComparer.Ordinal);
        for (var i = 0; i < engagementRules.Count; i++)
        {
            var rule = engagementRules[i];
            if (!byType.TryGetValue(rule.EventType, out var list)) byType[rule.EventType] = list = [];
            if (rule.Categories is null) list.Add((null, i));
            else list.AddRange(rule.Categories.Select(c => ((string?)c, i)));
        }

        // Specific categories first so they win over a catch-all rule for the same event type.
        RulesByType = byType.ToFrozenDictionary(
            kv => kv.Key,
            kv => kv.Value.OrderBy(x => x.Category is null ? 1 : 0).ToArray(),
            StringComparer.Ordinal);
    }

    public string Id { get; }
    public int Version { get; }
    public string? Description { get; }

    /// <summary>Combined score at or above which a lead enters MQL.</summary>
    public double EnterThreshold { get; }

    /// <summary>An MQL stays MQL while its score is at or above this (hysteresis); below it, it exits.</summary>
    public double ExitThreshold { get; }

    /// <summary>Newest counted events kept per lead so verdicts before the newest event stay exact.</summary>
    public int HistorySize { get; }

    /// <summary>Frequency-cap counters older than this (relative to the newest event) may be pruned.</summary>
    public int FrequencyHorizonDays { get; }

    public ModelLists Lists { get; }
    public IReadOnlyList<EngagementGroup> Groups { get; }
    public IReadOnlyList<EngagementRule> EngagementRules { get; }
    public IReadOnlyList<ProfileRule> ProfileRules { get; }
    public IReadOnlyList<HardRule> HardRules { get; }
    public TierSettings Tiers { get; }
    public GradeSettings Grades { get; }

    /// <summary>The document this model was parsed from, for storing it (e.g. in the event store) verbatim.</summary>
    public string Json { get; }

    /// <summary>The built-in model, <c>services/Scoring/Models/default-model.json</c> (embedded resource).</summary>
    public static ScoringModel Default => DefaultModel.Value;

    public override string ToString() => $"{Id} v{Version}";

    internal double[] GroupInvHalfLifeTicks { get; }
    internal double[] GroupCap { get; }

    /// <summary>Per group, the first group with the same half-life: one exp2 per distinct half-life per verdict.</summary>
    internal int[] GroupSameDecayAs { get; }
    internal int[] RuleGroupIndex { get; }
    internal double[] RuleInvHalfLifeTicks { get; }
    internal double[] RulePoints { get; }
    internal int[] RuleFrequencyCap { get; }
    internal double MaxInvHalfLifeTicks { get; }
    internal int[][] HotConditions { get; }
    internal FrozenDictionary<string, (string? Category, int Rule)[]> RulesByType { get; }

    internal int Match(string type, string? category, out UnscoredReason reason)
    {
        if (!RulesByType.TryGetValue(type, out var candidates))
        {
            reason = type == EventTypes.ProfileUpdated ? UnscoredReason.ProfileEvent
                : EventTypes.IsKnown(type) ? UnscoredReason.NoRuleForEventType
                : UnscoredReason.UnknownEventType;
            return -1;
        }

        foreach (var (ruleCategory, rule) in candidates)
        {
            if (ruleCategory is null || string.Equals(ruleCategory, category, StringComparison.Ordinal))
            {
                reason = UnscoredReason.None;
                return rule;
            }
        }

        reason = UnscoredReason.NoRuleForCategory;
        return -1;
    }

    internal static string ResourceName => "ScoringPlatform.Scoring.default-model.json";

    private static ScoringModel LoadDefault()
    {
        using var stream = typeof(ScoringModel).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing from the Scoring assembly.");
        return ScoringModelLoader.Parse(stream);
    }

    private static int IndexOf(IReadOnlyList<EngagementGroup> groups, string id)
    {
        for (var i = 0; i < groups.Count; i++)
        {
            if (groups[i].Id == id) return i;
        }

        throw new InvalidOperationException($"group '{id}' not found");
    }

    private static int IndexOfRule(IReadOnlyList<EngagementRule> rules, string id)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i].Id == id) return i;
        }

        throw new InvalidOperationException($"rule '{id}' not found");
    }
}

/// <summary>A set of engagement rules sharing a half-life and a cap. No half-life: the group does not decay.</summary>
public sealed record EngagementGroup(string Id, TimeSpan? HalfLife, double? Cap);

/// <summary>Points for an event type (and, optionally, categories). Categories null: any category.</summary>
public sealed record EngagementRule(
    string Id,
    string Group,
    string EventType,
    IReadOnlyList<string>? Categories,
    double Points,
    int? FrequencyCapPerActivityPerDay);

/// <summary>Fit (positive points) or negative (negative points) rule over the lead's profile.</summary>
public sealed record ProfileRule(string Id, ProfileCondition Condition, double Points)
{
    public bool IsNegative => Points < 0;
}

public enum HardRuleKind
{
    /// <summary>Disqualifies when the condition holds.</summary>
    Exclude,

    /// <summary>Disqualifies when the condition is known not to hold (or is unknown, if so declared).</summary>
    Require,
}

/// <summary>A must-have or exclusion that disqualifies regardless of points, with a reason.</summary>
public sealed record HardRule(string Id, HardRuleKind Kind, ProfileCondition Condition, string Reason, bool DisqualifyWhenUnknown);

/// <summary>Tiering: a weak fit makes an MQL an MQL-Light; a hot signal set with fit makes it a Hot MQL.</summary>
public sealed record TierSettings(char MinFitGradeForMql, TimeSpan HotWindow, IReadOnlyList<IReadOnlyList<string>> HotAnyOf);

/// <summary>Lower bounds: fit grades A, B, C (else D) and engagement bands 1, 2, 3 (else 4).</summary>
public sealed record GradeSettings(double FitA, double FitB, double FitC, double Band1, double Band2, double Band3)
{
    public char FitGrade(double fit) => fit >= FitA ? 'A' : fit >= FitB ? 'B' : fit >= FitC ? 'C' : 'D';

    public int EngagementBand(double engagement) =>
        engagement >= Band1 ? 1 : engagement >= Band2 ? 2 : engagement >= Band3 ? 3 : 4;
}

/// <summary>Lists the profile conditions match against (case-insensitive).</summary>
public sealed record ModelLists(
    IReadOnlyList<string> TargetTitles,
    int? TargetCompanySizeMin,
    int? TargetCompanySizeMax,
    IReadOnlyList<string> TargetIndustries,
    IReadOnlyList<string> TargetCountries,
    IReadOnlyList<string> CompetitorDomains,
    IReadOnlyList<string> PersonalEmailDomains,
    IReadOnlyList<string> StudentDomains,
    IReadOnlyList<string> JobSeekerKeywords)
{
    internal string[][] TargetTitlePhrases { get; } = TargetTitles.Select(TextMatch.Words).ToArray();
    internal string[][] JobSeekerPhrases { get; } = JobSeekerKeywords.Select(TextMatch.Words).ToArray();
    internal FrozenSet<string> TargetIndustrySet { get; } = TargetIndustries.Select(TextMatch.Normalize).ToFrozenSet();
    internal FrozenSet<string> TargetCountrySet { get; } = TargetCountries.Select(TextMatch.Normalize).ToFrozenSet();
    internal FrozenSet<string> PersonalDomainSet { get; } = PersonalEmailDomains.Select(TextMatch.Normalize).ToFrozenSet();
}
