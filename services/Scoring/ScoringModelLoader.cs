using System.Text.Json;

namespace ScoringPlatform.Scoring;

/// <summary>A model document that failed validation; <see cref="Errors"/> lists every problem found.</summary>
public sealed class ModelValidationException(IReadOnlyList<string> errors)
    : Exception("Invalid scoring model: " + string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

public static class ScoringModelLoader
{
    /// <summary>Event types the platform knows (contracts); a rule for anything else is a typo.</summary>
    public static readonly IReadOnlySet<string> KnownEventTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "page_viewed", "content_downloaded", "webinar_registered", "webinar_attended", "email_opened", "email_clicked",
        "form_submitted", "trial_started", "unsubscribed", "profile_updated", "sales_contacted",
    };

    public static readonly IReadOnlySet<string> ProfileFields = new HashSet<string>(StringComparer.Ordinal)
    {
        "jobTitle", "companySize", "industry", "country", "budgetAuthority", "emailDomain",
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Parses and validates a model; throws <see cref="ModelValidationException"/> naming rule, field and reason.</summary>
    public static ScoringModel Parse(string json)
    {
        ScoringModel? model;
        try
        {
            model = JsonSerializer.Deserialize<ScoringModel>(json, Json);
        }
        catch (JsonException ex)
        {
            throw new ModelValidationException([$"not a valid model document: {ex.Message}"]);
        }

        if (model is null) throw new ModelValidationException(["the document is empty"]);
        var errors = Validate(model);
        if (errors.Count > 0) throw new ModelValidationException(errors);
        Build(model);
        return model;
    }

    private static List<string> Validate(ScoringModel m)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(m.Id)) errors.Add("model.id: required");
        if (m.Version <= 0) errors.Add("model.version: must be a positive integer");
        if (m.Thresholds.Enter <= 0) errors.Add("thresholds.enter: must be positive");
        if (m.Thresholds.Exit > m.Thresholds.Enter)
            errors.Add($"thresholds.exit: {m.Thresholds.Exit} is above the enter threshold {m.Thresholds.Enter} (hysteresis needs exit <= enter)");
        if (m.HistorySize is < 0 or > 4096) errors.Add("historySize: must be between 0 and 4096");

        var ruleIds = new HashSet<string>(StringComparer.Ordinal);
        void CheckId(string section, string id)
        {
            if (string.IsNullOrWhiteSpace(id)) errors.Add($"{section}: a rule has no id");
            else if (!ruleIds.Add(id)) errors.Add($"{section} rule '{id}': duplicate rule id");
        }

        var groupIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in m.Groups)
        {
            if (string.IsNullOrWhiteSpace(g.Id)) errors.Add("groups: a group has no id");
            else if (!groupIds.Add(g.Id)) errors.Add($"group '{g.Id}': duplicate group id");
            if (!(g.HalfLifeDays > 0) || double.IsInfinity(g.HalfLifeDays)) errors.Add($"group '{g.Id}'.halfLifeDays: must be positive (got {g.HalfLifeDays})");
            if (g.Cap is < 0) errors.Add($"group '{g.Id}'.cap: must not be below zero (got {g.Cap})");
        }

        var matchKeys = new HashSet<(string, string?)>();
        foreach (var r in m.Engagement)
        {
            CheckId("engagement", r.Id);
            if (!KnownEventTypes.Contains(r.EventType)) errors.Add($"engagement rule '{r.Id}'.eventType: unknown event type '{r.EventType}'");
            if (!groupIds.Contains(r.Group)) errors.Add($"engagement rule '{r.Id}'.group: unknown group '{r.Group}'");
            if (r.DailyCapPerActivity is <= 0) errors.Add($"engagement rule '{r.Id}'.dailyCapPerActivity: must be positive");
            if (!matchKeys.Add((r.EventType, r.Category)))
                errors.Add($"engagement rule '{r.Id}': another rule already matches eventType '{r.EventType}' category '{r.Category ?? "(any)"}'");
        }

        foreach (var (section, rules) in new[] { ("fit", m.Fit), ("negative", m.Negative) })
        {
            foreach (var r in rules)
            {
                CheckId(section, r.Id);
                if (r.EventType is not null)
                {
                    if (section != "negative") errors.Add($"{section} rule '{r.Id}'.eventType: only negative rules can match events");
                    else if (!KnownEventTypes.Contains(r.EventType)) errors.Add($"{section} rule '{r.Id}'.eventType: unknown event type '{r.EventType}'");
                    continue;
                }

                if (r.Field is null || !ProfileFields.Contains(r.Field))
                    errors.Add($"{section} rule '{r.Id}'.field: must be one of {string.Join(", ", ProfileFields)} (got '{r.Field}')");
                if (r.List is not null && !m.Lists.ContainsKey(r.List)) errors.Add($"{section} rule '{r.Id}'.list: unknown list '{r.List}'");
                if (r.Min is not null && r.Max is not null && r.Min > r.Max) errors.Add($"{section} rule '{r.Id}': min is above max");
                if (section == "fit" && r.Points < 0) errors.Add($"fit rule '{r.Id}'.points: fit points must not be negative (use a negative rule)");
                if (section == "negative" && r.Points > 0) errors.Add($"negative rule '{r.Id}'.points: must not be positive");
            }
        }

        foreach (var h in m.HardRules)
        {
            CheckId("hardRules", h.Id);
            if (h.Kind is not ("exclude" or "mustHave")) errors.Add($"hard rule '{h.Id}'.kind: must be 'exclude' or 'mustHave' (got '{h.Kind}')");
            if (!ProfileFields.Contains(h.Field)) errors.Add($"hard rule '{h.Id}'.field: unknown field '{h.Field}'");
            foreach (var list in new[] { h.List, h.NotInList })
            {
                if (list is not null && !m.Lists.ContainsKey(list)) errors.Add($"hard rule '{h.Id}': unknown list '{list}'");
            }

            if (h.Kind == "exclude" && h.List is null && h.NotInList is null) errors.Add($"hard rule '{h.Id}': an exclusion needs 'list' or 'notInList'");
            if (string.IsNullOrWhiteSpace(h.Reason)) errors.Add($"hard rule '{h.Id}'.reason: required (verdicts must say why)");
        }

        var engagementIds = m.Engagement.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var id in m.Tiers.HotRuleIds.Concat(m.Tiers.HotCombination?.All ?? []))
        {
            if (!engagementIds.Contains(id)) errors.Add($"tiers: unknown engagement rule '{id}'");
        }

        return errors;
    }

    private static void Build(ScoringModel m)
    {
        var groupIndex = m.Groups.Select((g, i) => (g.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
        m.GroupHalfLifeTicks = m.Groups.Select(g => g.HalfLifeDays * TimeSpan.TicksPerDay).ToArray();
        m.RuleGroup = m.Engagement.Select(r => groupIndex[r.Group]).ToArray();
        m.RuleIndex = m.Engagement.Select((r, i) => ((r.EventType, r.Category), i)).ToDictionary(x => x.Item1, x => x.i);
        m.ListSets = m.Lists.ToDictionary(
            kv => kv.Key, kv => kv.Value.Select(v => v.Trim().ToLowerInvariant()).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var ruleIndex = m.Engagement.Select((r, i) => (r.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
        m.HotRules = m.Tiers.HotRuleIds.Select(id => ruleIndex[id]).ToArray();
        m.HotCombination = (m.Tiers.HotCombination?.All ?? []).Select(id => ruleIndex[id]).ToArray();
    }
}
