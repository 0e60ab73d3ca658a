namespace ScoringPlatform.Scoring;

/// <summary>Pure verdict computation over a <see cref="LeadScoreState"/> at any instant.</summary>
public static class Scorer
{
    public static Verdict Evaluate(LeadScoreState state, ScoringModel model, DateTimeOffset asOf)
    {
        var groups = new double[model.Groups.Count];
        var perRule = new double[model.RuleCount];
        var exact = EngagementByRule(state, model, asOf, perRule);
        for (var r = 0; r < perRule.Length; r++) groups[model.RuleGroup[r]] += perRule[r];

        var engagement = 0.0;
        var groupScale = new double[groups.Length];
        for (var g = 0; g < groups.Length; g++)
        {
            var capped = Capped(groups[g], model.Groups[g].Cap);
            groupScale[g] = groups[g] > 0 ? capped / groups[g] : 1;
            engagement += capped;
        }

        var contributions = new List<RuleContribution>();
        var fit = ProfileScore(state, model, contributions);
        var total = fit + engagement;
        var disqualification = Disqualify(state, model);
        var isMql = QualifiesAsMql(total, disqualification is not null, state.IsMql, model);

        for (var r = 0; r < perRule.Length; r++)
        {
            if (state.Counts[r] == 0) continue;
            var rule = model.Engagement[r];
            var top = state.TopIds.Skip(r * 3).Take(3).Where(id => id is not null).Select(id => id!).ToArray();
            contributions.Add(new RuleContribution(rule.Id, rule.Group, state.Raw[r], perRule[r] * groupScale[model.RuleGroup[r]],
                state.Counts[r], new DateTimeOffset(state.LastTicks[r], TimeSpan.Zero), top));
        }

        var grade = Grade(fit, model.Grades.Fit, "ABC", 'D');
        var band = Grade(engagement, model.Grades.Engagement, "123", '4') - '0';
        return new Verdict(
            asOf, fit, engagement, total, isMql,
            isMql ? Tier(state, model, fit) : MqlTier.None,
            grade, band, $"{grade}{band}", model.Id, model.Version,
            contributions, disqualification,
            isMql ? DropsBelowExit(groups, model, fit, asOf) : null,
            exact);
    }

    /// <summary>The total score at an instant (no explanation): the stage check's fast path.</summary>
    public static double Total(LeadScoreState state, ScoringModel model, DateTimeOffset asOf, out bool disqualified)
    {
        Span<double> perRule = stackalloc double[model.RuleCount];
        Span<double> groups = stackalloc double[model.Groups.Count];
        groups.Clear();
        EngagementByRule(state, model, asOf, perRule);
        for (var r = 0; r < perRule.Length; r++) groups[model.RuleGroup[r]] += perRule[r];
        var total = ProfileScore(state, model, null);
        for (var g = 0; g < groups.Length; g++) total += Capped(groups[g], model.Groups[g].Cap);
        disqualified = Disqualify(state, model) is not null;
        return total;
    }

    /// <summary>Hysteresis: enter at the enter threshold, stay until below the exit threshold; a hard rule always wins.</summary>
    public static bool QualifiesAsMql(double total, bool disqualified, bool wasMql, ScoringModel model) =>
        !disqualified && (total >= model.Thresholds.Enter || (wasMql && total >= model.Thresholds.Exit));

    // Decayed engagement per rule at asOf. From the accumulators when asOf is at/after the newest event;
    // from the bounded history when asOf is earlier (events after asOf must not count). Returns exactness.
    private static bool EngagementByRule(LeadScoreState state, ScoringModel model, DateTimeOffset asOf, Span<double> perRule)
    {
        perRule.Clear();
        if (state.Scored == 0) return true;
        var asOfTicks = asOf.UtcTicks;
        if (asOfTicks >= state.MaxTicks)
        {
            for (var r = 0; r < perRule.Length && r < state.Accum.Length; r++)
            {
                if (state.Accum[r] == 0) continue;
                var halfLife = model.GroupHalfLifeTicks[model.RuleGroup[r]];
                perRule[r] = state.Accum[r] * Math.Pow(2, -(asOfTicks - state.RefTicks) / halfLife);
            }

            return true;
        }

        var kept = (int)Math.Min(state.Scored, state.HistoryRule.Length);
        for (var i = 0; i < kept; i++)
        {
            var ticks = state.HistoryTicks[i];
            if (ticks > asOfTicks) continue;
            var r = state.HistoryRule[i];
            if (r >= perRule.Length) continue;
            var halfLife = model.GroupHalfLifeTicks[model.RuleGroup[r]];
            perRule[r] += model.Engagement[r].Points * Math.Pow(2, -(asOfTicks - ticks) / halfLife);
        }

        return state.Scored <= state.HistoryRule.Length;
    }

    private static double Capped(double value, double? cap) => cap is { } c && value > c ? c : value;

    private static double ProfileScore(LeadScoreState state, ScoringModel model, List<RuleContribution>? explain)
    {
        var score = 0.0;
        foreach (var rule in model.Fit)
        {
            if (Matches(state, model, rule)) Add(rule);
        }

        for (var i = 0; i < model.Negative.Count; i++)
        {
            var rule = model.Negative[i];
            if (rule.EventType is not null ? (state.NegativeFlags & (1L << i)) != 0 : Matches(state, model, rule)) Add(rule);
        }

        return score;

        void Add(ProfileRule rule)
        {
            score += rule.Points;
            explain?.Add(new RuleContribution(rule.Id, null, rule.Points, rule.Points, 1, null, []));
        }
    }

    private static Disqualification? Disqualify(LeadScoreState state, ScoringModel model)
    {
        foreach (var rule in model.HardRules)
        {
            var value = FieldText(state, rule.Field);
            var hit = rule.Kind switch
            {
                "mustHave" => value is null || (rule.List is not null && !InList(model, rule.List, value, rule.Field)),
                _ => value is not null &&
                     ((rule.List is not null && InList(model, rule.List, value, rule.Field)) ||
                      (rule.NotInList is not null && !InList(model, rule.NotInList, value, rule.Field))),
            };
            if (hit) return new Disqualification(rule.Id, rule.Reason);
        }

        return null;
    }

    private static bool Matches(LeadScoreState state, ScoringModel model, ProfileRule rule)
    {
        if (rule.Field == "companySize")
        {
            return state.CompanySize is { } size && (rule.Min is null || size >= rule.Min) && (rule.Max is null || size <= rule.Max);
        }

        if (rule.Field == "budgetAuthority") return state.BudgetAuthority == true;

        var value = FieldText(state, rule.Field!);
        if (value is null) return false;
        if (rule.AnyOf is { } anyOf && anyOf.Any(v => MatchValue(rule.Field!, value, v.ToLowerInvariant()))) return true;
        return rule.List is not null && InList(model, rule.List, value, rule.Field!);
    }

    private static bool InList(ScoringModel model, string list, string value, string field) =>
        model.ListSets.TryGetValue(list, out var set) && (set.Contains(value) || set.Any(v => MatchValue(field, value, v)));

    // Titles match by keyword; email domains by suffix/prefix patterns (".edu", "student."); others exactly.
    private static bool MatchValue(string field, string value, string pattern) => field switch
    {
        "jobTitle" => value.Contains(pattern, StringComparison.Ordinal),
        "emailDomain" => value == pattern || (pattern.StartsWith('.') && value.EndsWith(pattern, StringComparison.Ordinal)) ||
                         (pattern.EndsWith('.') && value.StartsWith(pattern, StringComparison.Ordinal)),
        _ => value == pattern,
    };

    private static string? FieldText(LeadScoreState state, string field) => field switch
    {
        "jobTitle" => state.JobTitle?.Trim().ToLowerInvariant(),
        "industry" => state.Industry?.Trim().ToLowerInvariant(),
        "country" => state.Country?.Trim().ToLowerInvariant(),
        "emailDomain" => state.Email is { } email && email.LastIndexOf('@') is var at and >= 0 ? email[(at + 1)..].Trim().ToLowerInvariant() : null,
        "companySize" => state.CompanySize?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "budgetAuthority" => state.BudgetAuthority?.ToString().ToLowerInvariant(),
        _ => null,
    };

    private static MqlTier Tier(LeadScoreState state, ScoringModel model, double fit)
    {
        if (fit < model.Tiers.MinFitForMql) return MqlTier.MqlLight;
        var hot = model.HotRules.Any(r => state.Counts[r] > 0) ||
                  (model.HotCombination.Length > 0 && model.HotCombination.All(r => state.Counts[r] > 0));
        return hot ? MqlTier.HotMql : MqlTier.Mql;
    }

    private static char Grade(double score, Dictionary<string, double> minimums, string order, char lowest)
    {
        foreach (var key in order)
        {
            if (minimums.TryGetValue(key.ToString(), out var min) && score >= min) return key;
        }

        return lowest;
    }

    // The instant the total falls below the exit threshold if nothing else happens. The total is
    // fit + Σ min(cap_g, G_g·2^(−Δ/h_g)), strictly decreasing in Δ, so the root is found by bisection to
    // one tick (100 ns); with a single uncapped group it equals the closed form Δ = h·log2(G/(exit − fit)).
    private static DateTimeOffset? DropsBelowExit(double[] groups, ScoringModel model, double fit, DateTimeOffset asOf)
    {
        var exit = model.Thresholds.Exit;
        if (fit >= exit) return null;
        double At(double deltaTicks)
        {
            var total = fit;
            for (var g = 0; g < groups.Length; g++)
            {
                total += Capped(groups[g] * Math.Pow(2, -deltaTicks / model.GroupHalfLifeTicks[g]), model.Groups[g].Cap);
            }

            return total;
        }

        if (At(0) < exit) return asOf;
        double lo = 0, hi = TimeSpan.TicksPerDay;
        while (At(hi) >= exit)
        {
            lo = hi;
            hi *= 2;
            if (hi > TimeSpan.FromDays(365 * 200).Ticks) return null;
        }

        while (hi - lo > 1)
        {
            var mid = Math.Floor((lo + hi) / 2);
            if (At(mid) >= exit) lo = mid; else hi = mid;
        }

        return asOf.AddTicks((long)hi);
    }
}
