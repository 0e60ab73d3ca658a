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
        QualificationSettings qualification,
        IReadOnlyList<QualificationRule> qualificationRules,
        SlaSettings sla,
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
        Qualification = qualification;
        QualificationRules = qualificationRules;
        Sla = sla;
        Json = json;

        GroupInvHalfLifeTicks = groups.Select(g => g.HalfLife is { } h ? 1.0 / h.Ticks : 0.0).ToArray();
        GroupCap = groups.Select(g => g.Cap ?? double.PositiveInfinity).ToArray();
        GroupSameDecayAs = GroupInvHalfLifeTicks.Select(inv => Array.IndexOf(GroupInvHalfLifeTicks, inv)).ToArray();
        RuleGroupIndex = engagementRules.Select(r => IndexOf(groups, r.Group)).ToArray();
        RuleInvHalfLifeTicks = RuleGroupIndex.Select(g => GroupInvHalfLifeTicks[g]).ToArray();
        RulePoints = engagementRules.Select(r => r.Points).ToArray();
        RuleFrequencyCap = engagementRules.Select(r => r.FrequencyCapPerActivityPerDay ?? 0).ToArray();
        MaxInvHalfLifeTicks = GroupInvHalfLifeTicks.DefaultIfEmpty(0).Max();
        GroupRules = Enumerable.Range(0, groups.Count)
            .Select(g => Enumerable.Range(0, engagementRules.Count).Where(r => RuleGroupIndex[r] == g).ToArray())
            .ToArray();
        RuleIsHandRaiser = engagementRules.Select(r => qualification.HandRaisers.Contains(r.Id)).ToArray();
        HotConditions = tiers.HotAnyOf
            .Select(set => set.Select(id => IndexOfRule(engagementRules, id)).ToArray())
            .ToArray();

        var byType = new Dictionary<string, List<(string? Category, int Rule)>>(StringComparer.OrdinalIgnoreCase);
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
            StringComparer.OrdinalIgnoreCase);
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

    /// <summary>What entering and staying in MQL need besides points: current engagement, distinct actions.</summary>
    public QualificationSettings Qualification { get; }

    /// <summary>Rules that qualify a lead (or promote its tier) when fit and event conditions hold together.</summary>
    public IReadOnlyList<QualificationRule> QualificationRules { get; }

    /// <summary>Sales follow-up windows per tier (the SLA).</summary>
    public SlaSettings Sla { get; }

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

    /// <summary>Per group, the engagement rules in it (a cap admits points against the whole group).</summary>
    internal int[][] GroupRules { get; }
    internal bool[] RuleIsHandRaiser { get; }
    internal FrozenDictionary<string, (string? Category, int Rule)[]> RulesByType { get; }

    internal int Match(string type, string? category, out UnscoredReason reason)
    {
        if (!RulesByType.TryGetValue(type, out var candidates))
        {
            reason = string.Equals(type, EventTypes.ProfileUpdated, StringComparison.OrdinalIgnoreCase) ? UnscoredReason.ProfileEvent
                : EventTypes.IsKnown(type) ? UnscoredReason.NoRuleForEventType
                : UnscoredReason.UnknownEventType;
            return -1;
        }

        foreach (var (ruleCategory, rule) in candidates)
        {
            // Case-insensitive: trackers send "Pricing" as often as "pricing".
            if (ruleCategory is null || string.Equals(ruleCategory, category, StringComparison.OrdinalIgnoreCase))
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

/// <summary>
/// Tiering: a weak fit makes an MQL an MQL-Light; a hot signal set with fit makes it a Hot MQL. Hysteresis, like
/// enter/exit: a lead already at MQL (or Hot) keeps that tier while its fit stays within <see cref="FitMarginToDemote"/>
/// points below the grade bound, and Hot while a hot set was seen within <see cref="HotStayWindow"/> (&gt;= HotWindow).
/// </summary>
public sealed record TierSettings(
    char MinFitGradeForMql, TimeSpan HotWindow, IReadOnlyList<IReadOnlyList<string>> HotAnyOf,
    double FitMarginToDemote = 0, TimeSpan? HotStays = null)
{
    public TimeSpan HotStayWindow => HotStays ?? HotWindow;
}

/// <summary>Sales follow-up window per tier (null: no SLA, e.g. MQL-Light is nurture). Deadline = entry (or promotion) + window.</summary>
public sealed record SlaSettings(TimeSpan? MqlLight, TimeSpan? Mql, TimeSpan? HotMql)
{
    public static SlaSettings None { get; } = new(null, null, null);

    public TimeSpan? For(MqlTier tier) => tier switch
    {
        MqlTier.MqlLight => MqlLight,
        MqlTier.Mql => Mql,
        MqlTier.HotMql => HotMql,
        _ => null,
    };
}

/// <summary>Lower bounds: fit grades A, B, C (else D) and engagement bands 1, 2, 3 (else 4).</summary>
public sealed record GradeSettings(double FitA, double FitB, double FitC, double Band1, double Band2, double Band3)
{
    public char FitGrade(double fit) => fit >= FitA ? 'A' : fit >= FitB ? 'B' : fit >= FitC ? 'C' : 'D';

    /// <summary>The lowest fit score of a grade (D: any).</summary>
    public double Bound(char grade) => grade switch { 'A' => FitA, 'B' => FitB, 'C' => FitC, _ => double.NegativeInfinity };

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
    IReadOnlyList<string> JobSeekerKeywords,
    IReadOnlyList<string> StudentTitleKeywords,
    IReadOnlyList<string> NonTargetTitles,
    IReadOnlyDictionary<string, string> TitleAbbreviations,
    IReadOnlyDictionary<string, IReadOnlyList<string>> IndustrySynonyms,
    IReadOnlyDictionary<string, string> CountryAliases)
{
    internal FrozenDictionary<string, string[]> TitleAbbreviationWords { get; } =
        TitleAbbreviations.ToFrozenDictionary(kv => TextMatch.Phrase(kv.Key), kv => TextMatch.Words(kv.Value));
    internal string[][] TargetTitlePhrases { get; } = TargetTitles.Select(TextMatch.Words).ToArray();
    internal string[][] NonTargetTitlePhrases { get; } = NonTargetTitles.Select(TextMatch.Words).ToArray();
    internal string[][] JobSeekerPhrases { get; } = JobSeekerKeywords.Select(TextMatch.Words).ToArray();
    internal string[][] StudentTitlePhrases { get; } = StudentTitleKeywords.Select(TextMatch.Words).ToArray();

    /// <summary>Synonym (as a normalised phrase) to the canonical industry name it stands for.</summary>
    internal FrozenDictionary<string, string> IndustryCanonical { get; } = IndustrySynonyms
        .SelectMany(kv => kv.Value.Append(kv.Key).Select(s => (Synonym: ProfileConditions.IndustryPhrase(s), Canonical: ProfileConditions.IndustryPhrase(kv.Key))))
        .DistinctBy(x => x.Synonym)
        .ToFrozenDictionary(x => x.Synonym, x => x.Canonical);

    internal FrozenSet<string> TargetIndustrySet { get; } = TargetIndustries.Select(ProfileConditions.IndustryPhrase).ToFrozenSet();
    internal FrozenDictionary<string, string> CountryAliasCodes { get; } =
        CountryAliases.ToFrozenDictionary(kv => TextMatch.Phrase(kv.Key), kv => kv.Value.Trim().ToUpperInvariant());
    internal FrozenSet<string> TargetCountrySet { get; } = TargetCountries.Select(c => c.Trim().ToUpperInvariant()).ToFrozenSet();
    internal FrozenSet<string> PersonalDomainSet { get; } = PersonalEmailDomains.Select(TextMatch.Normalize).ToFrozenSet();
}

/// <summary>
/// Besides points: entering MQL needs <see cref="MinEngagementToEnter"/> engagement and
/// <see cref="MinDistinctActions"/> different engagement rules seen within <see cref="ActionWindow"/> (one
/// hand-raiser is enough); staying needs <see cref="MinEngagementToStay"/>. Fit alone never qualifies or holds a lead.
/// </summary>
public sealed record QualificationSettings(
    double MinEngagementToEnter,
    double MinEngagementToStay,
    int MinDistinctActions,
    TimeSpan ActionWindow,
    IReadOnlyList<string> HandRaisers)
{
    public static QualificationSettings None { get; } = new(0, 0, 0, TimeSpan.FromDays(30), []);
}

/// <summary>
/// A rule-based MQL definition (seed 004): every fit condition holds and every event clause is met at the as-of
/// instant. The lead is then an MQL of at least <see cref="Tier"/>, named by <see cref="Id"/> with <see cref="Reason"/>.
/// </summary>
public sealed record QualificationRule(
    string Id,
    string Reason,
    IReadOnlyList<ProfileCondition> Fit,
    IReadOnlyList<QualificationClause> Events,
    MqlTier Tier);

/// <summary>
/// At least <see cref="AtLeast"/> counted events of the <see cref="Rules"/> (engagement rule indices the clause's
/// event type and categories resolve to) within <see cref="Window"/> before the as-of instant; with
/// <see cref="After"/> (an earlier clause's index) only events after the instant that clause was met count.
/// </summary>
public sealed record QualificationClause(string Id, IReadOnlyList<int> Rules, int AtLeast, TimeSpan Window, int After)
{
    internal bool[] RuleMask { get; init; } = [];
}
