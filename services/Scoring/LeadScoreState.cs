namespace ScoringPlatform.Scoring;

/// <summary>One event as the scoring model sees it (translated from the stored event at the edge).</summary>
public readonly record struct ScoringEvent(
    string EventId, string Type, DateTimeOffset OccurredAt, string? Category = null, string? ActivityKey = null);

/// <summary>Profile attributes from profile_updated; null fields leave the profile unchanged.</summary>
public sealed record LeadProfile(
    string? Email, string? JobTitle, int? CompanySize, string? Industry, string? Country, bool? BudgetAuthority);

public enum ApplyResult
{
    /// <summary>Counted by an engagement rule.</summary>
    Scored,
    /// <summary>Matched a rule but over its per-activity daily frequency cap.</summary>
    FrequencyCapped,
    /// <summary>Set a negative flag (e.g. unsubscribed).</summary>
    Flagged,
    /// <summary>No rule matches: contributes nothing (never an error).</summary>
    Ignored,
}

public enum StageChangeDirection
{
    EnteredMql,
    ExitedMql,
}

public sealed record StageTransition(StageChangeDirection Direction, DateTimeOffset At, double TotalScore);

/// <summary>
/// A lead's scoring state. Engagement is kept as one accumulator per rule, A = Σ p·2^((t−ref)/h), so adding an
/// event is O(1) whatever its timestamp (out-of-order events included) and the decayed value at any instant is
/// A·2^(−(asOf−ref)/h): O(groups) per verdict with no rescan. The reference instant moves forward (rebase) before
/// the exponent gets large, which keeps doubles far from overflow. Mutable and System.Text.Json friendly because
/// it is stored in the projection's document; mutate it only through <see cref="Apply"/>/<see cref="ApplyProfile"/>.
/// </summary>
public sealed class LeadScoreState
{
    private const int TopIdsPerRule = 3;
    private const int FrequencySlots = 64;
    private const double RebaseExponent = 400;

    public long RefTicks { get; set; }
    public long MaxTicks { get; set; }
    public double[] Accum { get; set; } = [];
    public double[] Raw { get; set; } = [];
    public int[] Counts { get; set; } = [];
    public long[] LastTicks { get; set; } = [];
    public string?[] TopIds { get; set; } = [];
    public ulong[] FrequencyKeys { get; set; } = [];
    public int[] FrequencyCounts { get; set; } = [];
    public int FrequencyNext { get; set; }
    public int[] HistoryRule { get; set; } = [];
    public long[] HistoryTicks { get; set; } = [];
    public long Scored { get; set; }
    public long NegativeFlags { get; set; }
    public string? Email { get; set; }
    public string? JobTitle { get; set; }
    public int? CompanySize { get; set; }
    public string? Industry { get; set; }
    public string? Country { get; set; }
    public bool? BudgetAuthority { get; set; }
    public bool IsMql { get; set; }

    public static LeadScoreState Create(ScoringModel model)
    {
        var state = new LeadScoreState();
        state.EnsureShape(model);
        return state;
    }

    /// <summary>True while every scored event is still in the bounded history (verdicts in the past are exact).</summary>
    public bool HistoryComplete(ScoringModel model) => Scored <= HistoryRule.Length;

    public ApplyResult Apply(in ScoringEvent e, ScoringModel model)
    {
        if (Accum.Length != model.RuleCount) EnsureShape(model);

        if (!model.RuleIndex.TryGetValue((e.Type, e.Category), out var rule) &&
            !model.RuleIndex.TryGetValue((e.Type, null), out rule))
        {
            for (var i = 0; i < model.Negative.Count; i++)
            {
                if (model.Negative[i].EventType == e.Type)
                {
                    NegativeFlags |= 1L << i;
                    return ApplyResult.Flagged;
                }
            }

            return ApplyResult.Ignored;
        }

        var ticks = e.OccurredAt.UtcTicks;
        if (model.Engagement[rule].DailyCapPerActivity is { } cap && !TryCountActivity(rule, e.ActivityKey, ticks, cap))
        {
            return ApplyResult.FrequencyCapped;
        }

        if (RefTicks == 0) RefTicks = ticks;
        var halfLife = model.GroupHalfLifeTicks[model.RuleGroup[rule]];
        var exponent = (ticks - RefTicks) / halfLife;
        if (exponent > RebaseExponent)
        {
            Rebase(ticks, model);
            exponent = 0;
        }

        var points = model.Engagement[rule].Points;
        Accum[rule] += points * Math.Pow(2, exponent);
        Raw[rule] += points;
        Counts[rule]++;
        if (ticks > LastTicks[rule]) LastTicks[rule] = ticks;
        if (ticks > MaxTicks) MaxTicks = ticks;

        var top = rule * TopIdsPerRule;
        TopIds[top + 2] = TopIds[top + 1];
        TopIds[top + 1] = TopIds[top];
        TopIds[top] = e.EventId;

        if (HistoryRule.Length > 0)
        {
            var slot = (int)(Scored % HistoryRule.Length);
            HistoryRule[slot] = rule;
            HistoryTicks[slot] = ticks;
        }

        Scored++;
        return ApplyResult.Scored;
    }

    public void ApplyProfile(LeadProfile traits, ScoringModel model)
    {
        if (Accum.Length != model.RuleCount) EnsureShape(model);
        Email = traits.Email ?? Email;
        JobTitle = traits.JobTitle ?? JobTitle;
        CompanySize = traits.CompanySize ?? CompanySize;
        Industry = traits.Industry ?? Industry;
        Country = traits.Country ?? Country;
        BudgetAuthority = traits.BudgetAuthority ?? BudgetAuthority;
    }

    /// <summary>Re-judges the MQL stage at <paramref name="asOf"/> with hysteresis; returns the change, if any.</summary>
    public StageTransition? UpdateStage(DateTimeOffset asOf, ScoringModel model)
    {
        var total = Scorer.Total(this, model, asOf, out var disqualified);
        var now = Scorer.QualifiesAsMql(total, disqualified, IsMql, model);
        if (now == IsMql) return null;
        IsMql = now;
        return new StageTransition(now ? StageChangeDirection.EnteredMql : StageChangeDirection.ExitedMql, asOf, total);
    }

    private void Rebase(long newRef, ScoringModel model)
    {
        for (var r = 0; r < Accum.Length; r++)
        {
            Accum[r] *= Math.Pow(2, -(newRef - RefTicks) / model.GroupHalfLifeTicks[model.RuleGroup[r]]);
        }

        RefTicks = newRef;
    }

    // Counts one occurrence of (rule, activity, UTC day); false when the day's cap is already reached.
    private bool TryCountActivity(int rule, string? activityKey, long ticks, int cap)
    {
        var key = ActivityKey(rule, activityKey, ticks / TimeSpan.TicksPerDay);
        for (var i = 0; i < FrequencyKeys.Length; i++)
        {
            if (FrequencyKeys[i] == key)
            {
                if (FrequencyCounts[i] >= cap) return false;
                FrequencyCounts[i]++;
                return true;
            }
        }

        // Oldest slot is reused: the cap window is one day, older keys rarely matter.
        FrequencyKeys[FrequencyNext] = key;
        FrequencyCounts[FrequencyNext] = 1;
        FrequencyNext = (FrequencyNext + 1) % FrequencyKeys.Length;
        return true;
    }

    // Stable across processes (the state is persisted), unlike string.GetHashCode. FNV-1a, 64 bit; 0 means empty.
    private static ulong ActivityKey(int rule, string? activity, long day)
    {
        var hash = 14695981039346656037UL;
        hash = (hash ^ (ulong)rule) * 1099511628211UL;
        hash = (hash ^ (ulong)day) * 1099511628211UL;
        foreach (var c in activity ?? "")
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash == 0 ? 1 : hash;
    }

    private void EnsureShape(ScoringModel model)
    {
        var n = model.RuleCount;
        Accum = Resize(Accum, n);
        Raw = Resize(Raw, n);
        Counts = Resize(Counts, n);
        LastTicks = Resize(LastTicks, n);
        TopIds = Resize(TopIds, n * TopIdsPerRule);
        if (FrequencyKeys.Length != FrequencySlots)
        {
            FrequencyKeys = new ulong[FrequencySlots];
            FrequencyCounts = new int[FrequencySlots];
            FrequencyNext = 0;
        }

        if (HistoryRule.Length != model.HistorySize)
        {
            HistoryRule = new int[model.HistorySize];
            HistoryTicks = new long[model.HistorySize];
        }
    }

    private static T[] Resize<T>(T[] array, int length)
    {
        if (array.Length == length) return array;
        var resized = new T[length];
        Array.Copy(array, resized, Math.Min(array.Length, length));
        return resized;
    }
}
