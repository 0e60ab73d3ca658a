using System.Text.Json;
using System.Text.Json.Serialization;

namespace ScoringPlatform.Scoring;

/// <summary>
/// Parses and validates a model document. Either every check passes and a model is returned, or a
/// <see cref="ModelValidationException"/> lists every problem (rule id, field, why): a bad model never
/// replaces a good one because nothing is built from it.
/// </summary>
public static class ScoringModelLoader
{
    private const int MaxFrequencyCap = FrequencyBucket.Capacity;

    /// <summary>Event clauses per qualification rule (a verdict keeps their met-at instants on the stack).</summary>
    internal const int MaxClauses = 16;

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static ScoringModel Parse(string json)
    {
        ModelDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize<ModelDocument>(json, Options);
        }
        catch (JsonException ex)
        {
            throw new ModelValidationException([new ModelValidationError(null, ex.Path ?? "$", $"not a valid model document: {ex.Message}")]);
        }

        if (doc is null) throw new ModelValidationException([new ModelValidationError(null, "$", "document is empty (null)")]);
        return Build(doc, json);
    }

    public static ScoringModel Parse(Stream utf8Json)
    {
        using var reader = new StreamReader(utf8Json);
        return Parse(reader.ReadToEnd());
    }

    /// <summary>Like <see cref="Parse(string)"/> but returns the errors instead of throwing.</summary>
    public static bool TryParse(string json, out ScoringModel? model, out IReadOnlyList<ModelValidationError> errors)
    {
        try
        {
            model = Parse(json);
            errors = [];
            return true;
        }
        catch (ModelValidationException ex)
        {
            model = null;
            errors = ex.Errors;
            return false;
        }
    }

    private static ScoringModel Build(ModelDocument doc, string json)
    {
        var errors = new List<ModelValidationError>();
        void Error(string? rule, string field, string why) => errors.Add(new ModelValidationError(rule, field, why));

        if (string.IsNullOrWhiteSpace(doc.Id)) Error(null, "id", "is required");
        if (doc.Version is not >= 1) Error(null, "version", "must be an integer >= 1");

        var enter = doc.Thresholds?.Enter;
        var exit = doc.Thresholds?.Exit;
        if (enter is not { } e || !double.IsFinite(e)) Error(null, "thresholds.enter", "is required and must be a finite number");
        if (exit is not { } x || !double.IsFinite(x)) Error(null, "thresholds.exit", "is required and must be a finite number");
        if (enter is { } en && exit is { } ex && ex > en)
            Error(null, "thresholds.exit", $"exit threshold {ex} is above enter threshold {en}; it must be lower or equal (hysteresis)");

        var historySize = doc.History?.MaxEventsPerLead ?? 64;
        if (historySize is < 1 or > 4096) Error(null, "history.maxEventsPerLead", $"must be between 1 and 4096, was {historySize}");
        var horizon = doc.History?.FrequencyHorizonDays ?? 400;
        if (horizon < 1) Error(null, "history.frequencyHorizonDays", $"must be >= 1, was {horizon}");

        var l = doc.Lists ?? new ListsDocument();
        if (l.TargetCompanySize is { Min: { } min, Max: { } max } && min > max)
            Error(null, "lists.targetCompanySize", $"min {min} is above max {max}");
        var aliases = l.CountryAliases ?? [];
        foreach (var (alias, code) in aliases.Where(kv => !Countries.IsCode(kv.Value)))
            Error(null, $"lists.countryAliases.{alias}", $"'{code}' is not an ISO 3166-1 alpha-2 code");
        foreach (var (c, i) in (l.TargetCountries ?? []).Select((c, i) => (c, i)).Where(x => !Countries.IsCode(x.c)))
        {
            var suggestion = Countries.Resolve(c, new Dictionary<string, string>()) is { } code ? $" (did you mean '{code}'?)" : "";
            Error(null, $"lists.targetCountries[{i}]", $"'{c}' is not an ISO 3166-1 alpha-2 code{suggestion}");
        }

        foreach (var (abbreviation, expansion) in (l.TitleAbbreviations ?? []).Where(kv => TextMatch.Words(kv.Key).Length != 1 || TextMatch.Words(kv.Value).Length == 0))
            Error(null, $"lists.titleAbbreviations.{abbreviation}", $"an abbreviation is one word and expands to at least one word, was '{abbreviation}' -> '{expansion}'");

        var lists = new ModelLists(
            l.TargetTitles ?? [], l.TargetCompanySize?.Min, l.TargetCompanySize?.Max, l.TargetIndustries ?? [],
            l.TargetCountries ?? [], l.CompetitorDomains ?? [], l.PersonalEmailDomains ?? [], l.StudentDomains ?? [],
            l.JobSeekerKeywords ?? [], l.StudentTitleKeywords ?? [], l.NonTargetTitles ?? [],
            l.TitleAbbreviations ?? [],
            (l.IndustrySynonyms ?? []).ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value),
            aliases);

        var ruleIds = new HashSet<string>(StringComparer.Ordinal);
        void CheckId(string? id, string field)
        {
            if (string.IsNullOrWhiteSpace(id)) Error(null, field + ".id", "is required");
            else if (!ruleIds.Add(id)) Error(id, field + ".id", $"duplicate rule id '{id}' (ids must be unique across profile, engagement and hard rules)");
        }

        // Groups
        var groups = new List<EngagementGroup>();
        var groupIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (g, i) in (doc.Groups ?? []).Select((g, i) => (g, i)))
        {
            var field = $"groups[{i}]";
            if (string.IsNullOrWhiteSpace(g.Id)) { Error(null, field + ".id", "is required"); continue; }
            if (!groupIds.Add(g.Id)) Error(g.Id, field + ".id", $"duplicate group id '{g.Id}'");
            if (g.HalfLifeDays is { } h && !(h > 0 && double.IsFinite(h)))
                Error(g.Id, field + ".halfLifeDays", $"half-life must be positive, was {h} (omit it for a group that does not decay)");
            if (g.Cap is { } c && !(c >= 0 && double.IsFinite(c)))
                Error(g.Id, field + ".cap", $"cap must be zero or positive, was {c}");
            groups.Add(new EngagementGroup(g.Id, g.HalfLifeDays is { } hd and > 0 ? TimeSpan.FromDays(hd) : null, g.Cap));
        }

        // Engagement rules
        var rules = new List<EngagementRule>();
        var selectors = new Dictionary<(string Type, string? Category), string>();
        static string? Lower(string? s) => s?.ToLowerInvariant();
        foreach (var (r, i) in (doc.EngagementRules ?? []).Select((r, i) => (r, i)))
        {
            var field = $"engagementRules[{i}]";
            CheckId(r.Id, field);
            var id = r.Id ?? $"#{i}";
            if (string.IsNullOrWhiteSpace(r.EventType)) Error(id, field + ".eventType", "is required");
            else if (!EventTypes.IsKnown(r.EventType))
                Error(id, field + ".eventType", $"unknown event type '{r.EventType}' (known: {string.Join(", ", EventTypes.All)})");
            else if (r.EventType == EventTypes.ProfileUpdated)
                Error(id, field + ".eventType", "profile_updated carries traits; score them with profileRules");
            else if (r.EventType == EventTypes.IdentityLinked)
                Error(id, field + ".eventType", "identity_linked joins two identities and carries no engagement");

            if (r.Categories is { } cats && r.EventType is { } type && EventTypes.IsKnown(type))
            {
                if (cats.Count == 0) Error(id, field + ".categories", "is empty; omit it to match any category");
                var allowed = EventTypes.Categories.GetValueOrDefault(type) ?? [];
                foreach (var c in cats)
                {
                    if (type == EventTypes.CustomEvent)
                    {
                        // Any name the website reports is a category of a custom event; a blank one matches nothing.
                        if (string.IsNullOrWhiteSpace(c)) Error(id, field + ".categories", "a custom event's name must not be blank");
                    }
                    else if (!allowed.Contains(c, StringComparer.OrdinalIgnoreCase))
                    {
                        Error(id, field + ".categories", allowed.Count == 0
                            ? $"event type '{type}' has no categories, but '{c}' was given"
                            : $"unknown category '{c}' for '{type}' (known: {string.Join(", ", allowed)})");
                    }
                }
            }

            if (r.EventType is { } t2)
            {
                foreach (var c in (IEnumerable<string?>?)r.Categories ?? [null])
                {
                    if (!selectors.TryAdd((t2.ToLowerInvariant(), Lower(c)), id))
                        Error(id, field + ".categories", $"rule '{selectors[(t2.ToLowerInvariant(), Lower(c))]}' already matches {t2}/{c ?? "*"}; an event must match one rule");
                }
            }

            var group = groups.FirstOrDefault(g => g.Id == r.Group);
            if (string.IsNullOrWhiteSpace(r.Group)) Error(id, field + ".group", "is required");
            else if (group is null) Error(id, field + ".group", $"unknown group '{r.Group}' (declared: {string.Join(", ", groupIds)})");

            if (r.Points is not { } p || !double.IsFinite(p)) Error(id, field + ".points", "is required and must be a finite number");
            else if (p < 0 && group?.HalfLife is not null)
                Error(id, field + ".points", $"negative points ({p}) must be in a group without half-life; a decaying penalty would make the score rise with time");

            if (r.FrequencyCap is { } fc && fc.PerActivityPerDay is not (>= 1 and <= MaxFrequencyCap))
                Error(id, field + ".frequencyCap.perActivityPerDay", $"must be between 1 and {MaxFrequencyCap}, was {fc.PerActivityPerDay?.ToString() ?? "missing"}");

            rules.Add(new EngagementRule(id, r.Group ?? "", r.EventType ?? "", r.Categories, r.Points ?? 0, r.FrequencyCap?.PerActivityPerDay));
        }

        if (rules.Count == 0) Error(null, "engagementRules", "at least one engagement rule is required");

        // Profile rules
        var profileRules = new List<ProfileRule>();
        foreach (var (r, i) in (doc.ProfileRules ?? []).Select((r, i) => (r, i)))
        {
            var field = $"profileRules[{i}]";
            CheckId(r.Id, field);
            var id = r.Id ?? $"#{i}";
            var condition = ParseCondition(r.Condition, id, field + ".condition", lists, Error);
            if (r.Points is not { } p || !double.IsFinite(p) || p == 0) Error(id, field + ".points", "is required and must be a finite, non-zero number");
            if (condition is { } cnd) profileRules.Add(new ProfileRule(id, cnd, r.Points ?? 0));
        }

        // Hard rules
        var hardRules = new List<HardRule>();
        foreach (var (r, i) in (doc.HardRules ?? []).Select((r, i) => (r, i)))
        {
            var field = $"hardRules[{i}]";
            CheckId(r.Id, field);
            var id = r.Id ?? $"#{i}";
            HardRuleKind? kind = r.Kind switch
            {
                "exclude" => HardRuleKind.Exclude,
                "require" => HardRuleKind.Require,
                _ => null,
            };
            if (kind is null) Error(id, field + ".kind", $"must be 'exclude' or 'require', was '{r.Kind}'");
            var condition = ParseCondition(r.Condition, id, field + ".condition", lists, Error);
            if (string.IsNullOrWhiteSpace(r.Reason)) Error(id, field + ".reason", "is required: a disqualification always says why");
            if (kind is { } k && condition is { } c)
                hardRules.Add(new HardRule(id, k, c, r.Reason ?? "", r.DisqualifyWhenUnknown ?? false));
        }

        // Tiers
        var minGrade = doc.Tiers?.MinFitGradeForMql ?? "B";
        if (minGrade is not ("A" or "B" or "C" or "D")) Error(null, "tiers.minFitGradeForMql", $"must be one of A, B, C, D, was '{minGrade}'");
        var hotDays = doc.Tiers?.Hot?.WithinDays ?? 14;
        if (!(hotDays > 0 && double.IsFinite(hotDays))) Error(null, "tiers.hot.withinDays", $"must be positive, was {hotDays}");
        var hotAnyOf = doc.Tiers?.Hot?.AnyOf ?? [];
        foreach (var (set, i) in hotAnyOf.Select((s, i) => (s, i)))
        {
            if (set.Count == 0) Error(null, $"tiers.hot.anyOf[{i}]", "is empty");
            foreach (var id in set.Where(id => rules.All(r => r.Id != id)))
                Error(id, $"tiers.hot.anyOf[{i}]", $"unknown engagement rule '{id}'");
        }

        var hysteresis = doc.Tiers?.Hysteresis;
        var fitMargin = hysteresis?.FitMarginToDemote ?? 0;
        if (!(fitMargin >= 0 && double.IsFinite(fitMargin)))
            Error(null, "tiers.hysteresis.fitMarginToDemote", $"must be zero or positive, was {fitMargin}");
        var hotStays = hysteresis?.HotStaysWithinDays ?? hotDays;
        if (!(hotStays > 0 && double.IsFinite(hotStays) && hotStays < 36500))
            Error(null, "tiers.hysteresis.hotStaysWithinDays", $"must be a positive number of days, was {hotStays}");
        else if (hotStays < hotDays)
            Error(null, "tiers.hysteresis.hotStaysWithinDays", $"{hotStays} is below tiers.hot.withinDays {hotDays}; staying Hot must not need more than becoming Hot (hysteresis)");

        var sla = BuildSla(doc.Sla, Error);

        // Grades
        var fit = doc.Grades?.Fit;
        var (fa, fb, fcc) = (fit?.A ?? 35, fit?.B ?? 20, fit?.C ?? 5);
        if (!(fa >= fb && fb >= fcc)) Error(null, "grades.fit", $"thresholds must satisfy a >= b >= c, were a={fa}, b={fb}, c={fcc}");
        var eng = doc.Grades?.Engagement;
        var (b1, b2, b3) = (eng?.Band1 ?? 40, eng?.Band2 ?? 25, eng?.Band3 ?? 10);
        if (!(b1 >= b2 && b2 >= b3)) Error(null, "grades.engagement", $"thresholds must satisfy band1 >= band2 >= band3, were {b1}, {b2}, {b3}");

        var qualification = BuildQualification(doc.Qualification, rules, Error);
        var qualificationRules = BuildQualificationRules(doc.QualificationRules ?? [], rules, lists, CheckId, Error);

        if (errors.Count > 0) throw new ModelValidationException(errors);

        return new ScoringModel(
            doc.Id!, doc.Version!.Value, doc.Description, enter!.Value, exit!.Value, historySize, horizon, lists,
            groups, rules, profileRules, hardRules,
            new TierSettings(
                minGrade[0], TimeSpan.FromDays(hotDays), hotAnyOf.Select(s => (IReadOnlyList<string>)s).ToArray(),
                fitMargin, TimeSpan.FromDays(hotStays)),
            new GradeSettings(fa, fb, fcc, b1, b2, b3),
            qualification,
            qualificationRules,
            sla,
            json);
    }

    private static SlaSettings BuildSla(SlaDocument? sla, Action<string?, string, string> error)
    {
        if (sla?.FollowUpHours is not { } hours) return SlaSettings.None;
        TimeSpan? Window(string key)
        {
            if (!hours.TryGetValue(key, out var h) || h is null) return null;
            if (!(h > 0 && h <= 8760 && double.IsFinite(h.Value)))
            {
                error(null, $"sla.followUpHours.{key}", $"must be a number of hours above 0 and at most 8760 (a year), was {h}; omit the tier for no SLA");
                return null;
            }

            return TimeSpan.FromHours(h.Value);
        }

        foreach (var key in hours.Keys.Where(k => k is not ("mql_light" or "mql" or "hot")))
            error(null, $"sla.followUpHours.{key}", $"unknown tier '{key}' (known: mql_light, mql, hot)");
        var (light, mql, hot) = (Window("mql_light"), Window("mql"), Window("hot"));
        if (hot is { } hw && mql is { } mw && hw > mw)
            error(null, "sla.followUpHours.hot", $"{hw.TotalHours} h is slower than mql {mw.TotalHours} h; a Hot MQL is followed up fastest");
        if (mql is { } mw2 && light is { } lw && mw2 > lw)
            error(null, "sla.followUpHours.mql", $"{mw2.TotalHours} h is slower than mql_light {lw.TotalHours} h; a higher tier is never followed up slower");
        return new SlaSettings(light, mql, hot);
    }

    private static QualificationSettings BuildQualification(QualificationDocument? q, List<EngagementRule> rules, Action<string?, string, string> error)
    {
        if (q is null) return QualificationSettings.None;
        var enter = q.MinEngagementToEnter ?? 0;
        var stay = q.MinEngagementToStay ?? 0;
        if (!(enter >= 0 && double.IsFinite(enter))) error(null, "qualification.minEngagementToEnter", $"must be zero or positive, was {enter}");
        if (!(stay >= 0 && double.IsFinite(stay))) error(null, "qualification.minEngagementToStay", $"must be zero or positive, was {stay}");
        if (stay > enter) error(null, "qualification.minEngagementToStay", $"{stay} is above minEngagementToEnter {enter}; staying must not need more than entering (hysteresis)");
        var actions = q.MinDistinctActions ?? 0;
        if (actions < 0) error(null, "qualification.minDistinctActions", $"must be zero or positive, was {actions}");
        var days = q.DistinctActionsWithinDays ?? 30;
        if (!(days > 0 && double.IsFinite(days))) error(null, "qualification.distinctActionsWithinDays", $"must be positive, was {days}");
        var handRaisers = q.HandRaisers ?? [];
        foreach (var id in handRaisers.Where(id => rules.All(r => r.Id != id)))
            error(id, "qualification.handRaisers", $"unknown engagement rule '{id}'");
        return new QualificationSettings(enter, stay, actions, TimeSpan.FromDays(days > 0 && double.IsFinite(days) ? days : 30), handRaisers);
    }

    private static List<QualificationRule> BuildQualificationRules(
        List<QualificationRuleDocument> docs, List<EngagementRule> rules, ModelLists lists,
        Action<string?, string> checkId, Action<string?, string, string> error)
    {
        var result = new List<QualificationRule>();
        foreach (var (q, i) in docs.Select((q, i) => (q, i)))
        {
            var field = $"qualificationRules[{i}]";
            checkId(q.Id, field);
            var id = q.Id ?? $"#{i}";
            if (string.IsNullOrWhiteSpace(q.Reason)) error(id, field + ".reason", "is required: a verdict names the rule and says why");
            var fit = new List<ProfileCondition>();
            foreach (var (name, j) in (q.Fit ?? []).Select((n, j) => (n, j)))
            {
                if (ParseCondition(name, id, $"{field}.fit[{j}]", lists, error) is { } c) fit.Add(c);
            }

            MqlTier? tier = (q.Tier ?? "mql") switch
            {
                "mql_light" => MqlTier.MqlLight,
                "mql" => MqlTier.Mql,
                "hot" => MqlTier.HotMql,
                _ => null,
            };
            if (tier is null) error(id, field + ".tier", $"must be 'mql_light', 'mql' or 'hot', was '{q.Tier}'");

            var clauses = new List<QualificationClause>();
            var events = q.Events ?? [];
            if (events.Count == 0) error(id, field + ".events", "at least one event clause is required: an MQL has engaged (fit alone never qualifies)");
            if (events.Count > MaxClauses) error(id, field + ".events", $"at most {MaxClauses} event clauses, was {events.Count}");
            foreach (var (c, j) in events.Select((c, j) => (c, j)))
            {
                var cf = $"{field}.events[{j}]";
                var cid = c.Id ?? $"#{j}";
                if (clauses.Any(x => x.Id == cid)) error(id, cf + ".id", $"duplicate clause id '{cid}'");
                var matching = new List<int>();
                if (string.IsNullOrWhiteSpace(c.EventType))
                {
                    error(id, cf + ".eventType", "is required");
                }
                else
                {
                    for (var r = 0; r < rules.Count; r++)
                    {
                        if (!string.Equals(rules[r].EventType, c.EventType, StringComparison.OrdinalIgnoreCase)) continue;
                        if (c.Categories is { } cats && rules[r].Categories is { } rc && !rc.Any(x => cats.Contains(x, StringComparer.OrdinalIgnoreCase))) continue;
                        matching.Add(r);
                    }

                    foreach (var cat in (c.Categories ?? []).Where(cat => !rules.Any(r =>
                        string.Equals(r.EventType, c.EventType, StringComparison.OrdinalIgnoreCase)
                        && (r.Categories is null || r.Categories.Contains(cat, StringComparer.OrdinalIgnoreCase)))))
                    {
                        error(id, cf + ".categories", $"no engagement rule scores {c.EventType}/{cat}; a clause counts events its engagement rules count");
                    }

                    if (matching.Count == 0)
                        error(id, cf + ".eventType", $"no engagement rule scores '{c.EventType}'; a clause counts events its engagement rules count");
                }

                var atLeast = c.AtLeast ?? 1;
                if (atLeast < 1) error(id, cf + ".atLeast", $"must be >= 1, was {atLeast}");
                var within = c.WithinDays;
                if (within is not { } w || !(w > 0 && double.IsFinite(w))) error(id, cf + ".withinDays", $"is required and must be positive, was {within?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing"}");
                var after = -1;
                if (c.After is { } a)
                {
                    after = clauses.FindIndex(x => x.Id == a);
                    if (after < 0) error(id, cf + ".after", $"'{a}' is not an earlier clause of this rule (declared: {string.Join(", ", clauses.Select(x => x.Id))})");
                }

                var mask = new bool[rules.Count];
                foreach (var r in matching) mask[r] = true;
                clauses.Add(new QualificationClause(cid, matching, Math.Max(1, atLeast), TimeSpan.FromDays(within is > 0 and < 36500 ? within.Value : 1), after) { RuleMask = mask });
            }

            result.Add(new QualificationRule(id, q.Reason ?? "", fit, clauses, tier ?? MqlTier.Mql));
        }

        return result;
    }

    private static ProfileCondition? ParseCondition(string? name, string id, string field, ModelLists lists, Action<string?, string, string> error)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            error(id, field, "is required");
            return null;
        }

        if (!ProfileConditions.ByName.TryGetValue(name, out var condition))
        {
            error(id, field, $"unknown condition '{name}' (known: {string.Join(", ", ProfileConditions.ByName.Keys)})");
            return null;
        }

        var missingList = condition switch
        {
            ProfileCondition.TargetTitle when lists.TargetTitles.Count == 0 => "lists.targetTitles",
            ProfileCondition.JobSeekerTitle when lists.JobSeekerKeywords.Count == 0 => "lists.jobSeekerKeywords",
            ProfileCondition.StudentTitle when lists.StudentTitleKeywords.Count == 0 => "lists.studentTitleKeywords",
            ProfileCondition.TargetCompanySize when lists.TargetCompanySizeMin is null && lists.TargetCompanySizeMax is null => "lists.targetCompanySize",
            ProfileCondition.TargetIndustry when lists.TargetIndustries.Count == 0 => "lists.targetIndustries",
            ProfileCondition.TargetCountry when lists.TargetCountries.Count == 0 => "lists.targetCountries",
            ProfileCondition.CompetitorDomain when lists.CompetitorDomains.Count == 0 => "lists.competitorDomains",
            ProfileCondition.PersonalEmailDomain when lists.PersonalEmailDomains.Count == 0 => "lists.personalEmailDomains",
            ProfileCondition.StudentDomain when lists.StudentDomains.Count == 0 => "lists.studentDomains",
            _ => null,
        };
        if (missingList is not null) error(id, field, $"condition '{name}' needs a non-empty {missingList}");
        return condition;
    }

    // The document as written (all optional so validation can report every missing field at once).
    private sealed class ModelDocument
    {
        [JsonPropertyName("$schema")] public string? Schema { get; set; }
        public string? Id { get; set; }
        public int? Version { get; set; }
        public string? Description { get; set; }
        public ThresholdsDocument? Thresholds { get; set; }
        public HistoryDocument? History { get; set; }
        public ListsDocument? Lists { get; set; }
        public List<ProfileRuleDocument>? ProfileRules { get; set; }
        public List<GroupDocument>? Groups { get; set; }
        public List<EngagementRuleDocument>? EngagementRules { get; set; }
        public List<HardRuleDocument>? HardRules { get; set; }
        public TiersDocument? Tiers { get; set; }
        public GradesDocument? Grades { get; set; }
        public QualificationDocument? Qualification { get; set; }
        public List<QualificationRuleDocument>? QualificationRules { get; set; }
        public SlaDocument? Sla { get; set; }
    }

    private sealed class SlaDocument
    {
        public Dictionary<string, double?>? FollowUpHours { get; set; }
    }

    private sealed class TierHysteresisDocument
    {
        public double? FitMarginToDemote { get; set; }
        public double? HotStaysWithinDays { get; set; }
    }

    private sealed class QualificationDocument
    {
        public double? MinEngagementToEnter { get; set; }
        public double? MinEngagementToStay { get; set; }
        public int? MinDistinctActions { get; set; }
        public double? DistinctActionsWithinDays { get; set; }
        public List<string>? HandRaisers { get; set; }
    }

    private sealed class QualificationRuleDocument
    {
        public string? Id { get; set; }
        public string? Description { get; set; }
        public string? Reason { get; set; }
        public List<string>? Fit { get; set; }
        public List<ClauseDocument>? Events { get; set; }
        public string? Tier { get; set; }
    }

    private sealed class ClauseDocument
    {
        public string? Id { get; set; }
        public string? EventType { get; set; }
        public List<string>? Categories { get; set; }
        public int? AtLeast { get; set; }
        public double? WithinDays { get; set; }
        public string? After { get; set; }
    }

    private sealed class ThresholdsDocument
    {
        public double? Enter { get; set; }
        public double? Exit { get; set; }
    }

    private sealed class HistoryDocument
    {
        public int? MaxEventsPerLead { get; set; }
        public int? FrequencyHorizonDays { get; set; }
    }

    private sealed class ListsDocument
    {
        public List<string>? TargetTitles { get; set; }
        public RangeDocument? TargetCompanySize { get; set; }
        public List<string>? TargetIndustries { get; set; }
        public List<string>? TargetCountries { get; set; }
        public List<string>? CompetitorDomains { get; set; }
        public List<string>? PersonalEmailDomains { get; set; }
        public List<string>? StudentDomains { get; set; }
        public List<string>? JobSeekerKeywords { get; set; }
        public List<string>? StudentTitleKeywords { get; set; }
        public List<string>? NonTargetTitles { get; set; }
        public Dictionary<string, string>? TitleAbbreviations { get; set; }
        public Dictionary<string, List<string>>? IndustrySynonyms { get; set; }
        public Dictionary<string, string>? CountryAliases { get; set; }
    }

    private sealed class RangeDocument
    {
        public int? Min { get; set; }
        public int? Max { get; set; }
    }

    private sealed class ProfileRuleDocument
    {
        public string? Id { get; set; }
        public string? Condition { get; set; }
        public double? Points { get; set; }
    }

    private sealed class GroupDocument
    {
        public string? Id { get; set; }
        public double? HalfLifeDays { get; set; }
        public double? Cap { get; set; }
    }

    private sealed class EngagementRuleDocument
    {
        public string? Id { get; set; }
        public string? Group { get; set; }
        public string? EventType { get; set; }
        public List<string>? Categories { get; set; }
        public double? Points { get; set; }
        public FrequencyCapDocument? FrequencyCap { get; set; }
    }

    private sealed class FrequencyCapDocument
    {
        public int? PerActivityPerDay { get; set; }
    }

    private sealed class HardRuleDocument
    {
        public string? Id { get; set; }
        public string? Kind { get; set; }
        public string? Condition { get; set; }
        public string? Reason { get; set; }
        public bool? DisqualifyWhenUnknown { get; set; }
    }

    private sealed class TiersDocument
    {
        public string? MinFitGradeForMql { get; set; }
        public HotDocument? Hot { get; set; }
        public TierHysteresisDocument? Hysteresis { get; set; }
    }

    private sealed class HotDocument
    {
        public double? WithinDays { get; set; }
        public List<List<string>>? AnyOf { get; set; }
    }

    private sealed class GradesDocument
    {
        public FitGradesDocument? Fit { get; set; }
        public BandsDocument? Engagement { get; set; }
    }

    private sealed class FitGradesDocument
    {
        public double? A { get; set; }
        public double? B { get; set; }
        public double? C { get; set; }
    }

    private sealed class BandsDocument
    {
        public double? Band1 { get; set; }
        public double? Band2 { get; set; }
        public double? Band3 { get; set; }
    }
}

/// <summary>One problem in a model document: the rule (if any), the field path, and why it is wrong.</summary>
public sealed record ModelValidationError(string? RuleId, string Field, string Message)
{
    public override string ToString() => RuleId is null ? $"{Field}: {Message}" : $"rule '{RuleId}', {Field}: {Message}";
}

/// <summary>The model was rejected; <see cref="Errors"/> lists every problem found, not just the first.</summary>
public sealed class ModelValidationException(IReadOnlyList<ModelValidationError> errors)
    : Exception($"Scoring model rejected ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):{Environment.NewLine}  "
        + string.Join(Environment.NewLine + "  ", errors))
{
    public IReadOnlyList<ModelValidationError> Errors { get; } = errors;
}
