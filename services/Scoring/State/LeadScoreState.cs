using System.Runtime.InteropServices;
using System.Text.Json.Serialization;

namespace ScoringPlatform.Scoring;

/// <summary>
/// One lead's scoring state, folded from its events. Stored as a JSON document (public get/set, parameterless
/// constructor), so treat the properties as storage and change the state only through
/// <see cref="Apply"/>, <see cref="ApplyProfile(LeadProfile, ScoringModel)"/> and <see cref="UpdateStage"/>.
/// <para>
/// Decay without rescans: every engagement rule keeps <c>Total = Σ p·2^((t−ref)/h)</c> over its counted events,
/// normalised to <see cref="ReferenceTicks"/>, so applying an event is O(1) whatever its timestamp and the decayed
/// value at any <c>asOf</c> after the newest event is <c>Total·2^((ref−asOf)/h)</c>. The reference moves forward
/// (rebase, O(rules)) once an event is more than 64 half-lives past it, so normalised values stay below
/// p·2^64 and far from overflow. Exact for asOf before some events too: the newest
/// <see cref="ScoringModel.HistorySize"/> counted events are kept individually (<see cref="History"/>) and older
/// ones are folded into <see cref="RuleAccumulator.Base"/> (in chunks, amortised O(1)); an asOf at or after <see cref="HistoryFloorTicks"/>
/// is exact (events after it are all in the history and simply left out, never subtracted, so no cancellation).
/// </para>
/// <para>
/// Precision: doubles. For asOf at or after the newest event the absolute error is about n·ε·max|points|
/// (ε = 2.2e-16, n = counted events), i.e. below 1e-9 points for any realistic lead. A normalised value
/// underflows to 0 only for events more than ~1000 half-lives older than the reference (decades), whose
/// contribution is below 1e-300 anyway.
/// </para>
/// </summary>
public sealed class LeadScoreState
{
    internal const int LatestPerRule = 3;
    private const double RebaseAfterHalfLives = 64;
    private const int MinBucketsBeforePrune = 256;

    public string ModelId { get; set; } = "";
    public int ModelVersion { get; set; }

    /// <summary>False until the first counted or capped event; <see cref="ReferenceTicks"/> is meaningless before.</summary>
    public bool HasEvents { get; set; }

    public long ReferenceTicks { get; set; }

    /// <summary>Newest occurrence (UTC ticks) of any event that matched a rule.</summary>
    public long LatestEventTicks { get; set; }

    /// <summary>Newest event folded out of <see cref="History"/>; verdicts are exact for asOf at or after it (0: none folded).</summary>
    public long HistoryFloorTicks { get; set; }

    public List<RuleAccumulator> Rules { get; set; } = [];

    /// <summary>The newest counted events, oldest first: at least <see cref="ScoringModel.HistorySize"/>, fewer than twice that.</summary>
    public List<CountedEvent> History { get; set; } = [];

    /// <summary>Per (rule, activity, UTC day) the earliest counted occurrences, keyed by a stable 64-bit hash.</summary>
    public Dictionary<long, FrequencyBucket> FrequencyBuckets { get; set; } = [];

    /// <summary>Bucket count at which old buckets are next pruned (doubles with the live count, so pruning is amortised O(1)).</summary>
    public int FrequencyPruneAt { get; set; } = MinBucketsBeforePrune;

    public LeadProfileState Profile { get; set; } = new();

    /// <summary>Per profile rule (model order): whether it matched the current profile.</summary>
    public List<bool> ProfileRuleMatched { get; set; } = [];

    public double ProfileScore { get; set; }

    /// <summary>Per qualification rule (model order): whether its fit conditions hold for the current profile.</summary>
    public List<bool> QualificationFitHolds { get; set; } = [];

    /// <summary>Index of the first hard rule that disqualifies the current profile, or -1.</summary>
    public int DisqualifyingHardRule { get; set; } = -1;

    /// <summary>The stage after the last <see cref="UpdateStage"/> (hysteresis needs it).</summary>
    public bool IsMql { get; set; }

    public DateTimeOffset? StageChangedAt { get; set; }

    /// <summary>How many times the lead entered MQL; above one, an entry is a reactivation.</summary>
    public int MqlEntries { get; set; }

    public long CountedEvents { get; set; }
    public long FrequencyCappedEvents { get; set; }
    public long UnscoredEvents { get; set; }

    /// <summary>The earliest asOf a verdict is exact for (null: any asOf).</summary>
    [JsonIgnore]
    public DateTimeOffset? EarliestExactAsOf => HistoryFloorTicks > 0 ? new DateTimeOffset(HistoryFloorTicks, TimeSpan.Zero) : null;

    [JsonIgnore]
    public DateTimeOffset? LatestEventAt => HasEvents ? new DateTimeOffset(LatestEventTicks, TimeSpan.Zero) : null;

    public static LeadScoreState Create(ScoringModel model)
    {
        var state = new LeadScoreState();
        state.Initialise(model);
        return state;
    }

    /// <summary>Folds one event in: O(1) amortised in the number of events seen (a late event costs a binary search and a shift of the bounded history), no allocation once warm.</summary>
    public ApplyResult Apply(in ScoringEvent e, ScoringModel model)
    {
        EnsureModel(model);
        var r = model.Match(e.Type, e.Category, out var reason);
        var t = e.OccurredAt.UtcTicks;
        if (r >= 0 && (t < ScoringEvent.EarliestAcceptedTicks || t > ScoringEvent.LatestAcceptedTicks))
        {
            r = -1;
            reason = UnscoredReason.OccurredAtOutOfRange;
        }

        if (r < 0)
        {
            UnscoredEvents++;
            return ApplyResult.Unscored(reason);
        }

        var late = HasEvents && t < LatestEventTicks;
        MoveReference(t, model);
        if (t > LatestEventTicks) LatestEventTicks = t;

        var outcome = ApplyOutcome.Counted;
        var cap = model.RuleFrequencyCap[r];
        if (cap > 0)
        {
            var day = (int)(t / TimeSpan.TicksPerDay);
            ref var bucket = ref CollectionsMarshal.GetValueRefOrAddDefault(FrequencyBuckets, FrequencyKey(r, e.ActivityKey, day), out var existed);
            if (!existed) bucket.Day = day;
            if (bucket.Count < cap)
            {
                bucket.Insert(t);
            }
            else if (t >= bucket.Last)
            {
                FrequencyCappedEvents++;
                return new ApplyResult(ApplyOutcome.FrequencyCapped, model.EngagementRules[r].Id, 0, UnscoredReason.None);
            }
            else
            {
                // Earliest-N-per-day: a late event earlier in the day takes the place of the latest counted one,
                // so the result does not depend on arrival order.
                var displaced = bucket.ReplaceLast(t);
                Remove(r, displaced, model);
                FrequencyCappedEvents++;
                outcome = ApplyOutcome.CountedReplacingLater;
            }

            if (!existed && FrequencyBuckets.Count >= FrequencyPruneAt) PruneFrequencyBuckets(model);
        }

        Add(r, t, e.EventId, model, late || outcome == ApplyOutcome.CountedReplacingLater);
        CountedEvents++;
        return new ApplyResult(outcome, model.EngagementRules[r].Id, model.RulePoints[r], UnscoredReason.None);
    }

    /// <summary>Merges traits (null = unchanged) and re-evaluates fit, negative and hard rules.</summary>
    public void ApplyProfile(LeadProfile traits, ScoringModel model) => ApplyProfile(traits, model, null);

    /// <summary>
    /// Merges traits as of <paramref name="occurredAt"/>: a field is only overwritten by an update at least as new
    /// as the one that set it, so out-of-order profile updates converge to the newest values.
    /// </summary>
    public void ApplyProfile(LeadProfile traits, ScoringModel model, DateTimeOffset? occurredAt)
    {
        EnsureModel(model);
        Profile.Merge(traits, occurredAt?.UtcTicks);
        EvaluateProfile(model);
    }

    /// <summary>
    /// Moves the hysteresis stage to <paramref name="asOf"/>: enters MQL at score &gt;= enter (and no hard rule
    /// disqualifies), exits below exit or when disqualified. Returns the change, or null.
    /// </summary>
    public StageTransition? UpdateStage(DateTimeOffset asOf, ScoringModel model)
    {
        EnsureModel(model);
        var now = Scorer.Measure(this, model, asOf);
        if (!IsMql)
        {
            if (!now.IsMql) return null;
            IsMql = true;
            MqlEntries++;
            StageChangedAt = asOf;
            var why = now.QualifyingRule >= 0
                ? $"qualification rule '{model.QualificationRules[now.QualifyingRule].Id}': {model.QualificationRules[now.QualifyingRule].Reason}"
                : $"score {now.Total:0.##} reached the enter threshold {model.EnterThreshold}";
            return new StageTransition(
                StageDirection.EnteredMql, asOf, now.Total, now.Tier, why + (MqlEntries > 1 ? " (reactivated)" : ""),
                MqlEntries > 1, model.Id, model.Version);
        }

        string reason;
        var at = asOf;
        if (now.Disqualification >= 0)
        {
            var rule = model.HardRules[now.Disqualification];
            reason = $"disqualified by hard rule '{rule.Id}': {rule.Reason}";
        }
        else if (!now.IsMql)
        {
            at = ExitInstant(asOf, model);
            reason = now.Total < model.ExitThreshold
                ? $"score {now.Total:0.##} fell below the exit threshold {model.ExitThreshold}"
                : $"engagement {now.Engagement:0.##} fell below the {model.Qualification.MinEngagementToStay} an MQL needs to stay one (fit alone never holds a lead)";
        }
        else
        {
            return null;
        }

        IsMql = false;
        StageChangedAt = at;
        return new StageTransition(StageDirection.ExitedMql, at, now.Total, MqlTier.None, reason, false, model.Id, model.Version);
    }

    /// <summary>
    /// When a qualified lead stopped qualifying: from the later of the stage change and the newest event (nothing
    /// happened since, so scores only decay and rule windows only expire: qualification can only be lost), the
    /// first tick at which it no longer qualifies, by bisection to the tick (exits are rare; ~63 measurements).
    /// </summary>
    private DateTimeOffset ExitInstant(DateTimeOffset asOf, ScoringModel model)
    {
        var fromTicks = Math.Min(asOf.UtcTicks, Math.Max(LatestEventTicks, StageChangedAt?.UtcTicks ?? 0));
        if (fromTicks < HistoryFloorTicks) return asOf;
        if (!Scorer.Measure(this, model, new DateTimeOffset(fromTicks, TimeSpan.Zero)).IsMql) return new DateTimeOffset(fromTicks, TimeSpan.Zero);
        long lo = fromTicks, hi = asOf.UtcTicks;
        while (hi - lo > 1)
        {
            var mid = lo + ((hi - lo) / 2);
            if (Scorer.Measure(this, model, new DateTimeOffset(mid, TimeSpan.Zero)).IsMql) lo = mid;
            else hi = mid;
        }

        return new DateTimeOffset(hi, TimeSpan.Zero);
    }

    internal void EnsureModel(ScoringModel model)
    {
        if (Rules.Count == 0 && ModelId.Length == 0)
        {
            Initialise(model);
            return;
        }

        if (!string.Equals(ModelId, model.Id, StringComparison.Ordinal) || ModelVersion != model.Version)
            throw new ModelMismatchException(ModelId, ModelVersion, model.Id, model.Version);
    }

    private void Initialise(ScoringModel model)
    {
        ModelId = model.Id;
        ModelVersion = model.Version;
        Rules = model.EngagementRules.Select(r => new RuleAccumulator { RuleId = r.Id }).ToList();
        History = new List<CountedEvent>(2 * model.HistorySize);
        EvaluateProfile(model);
    }

    private void EvaluateProfile(ScoringModel model)
    {
        ProfileRuleMatched.Clear();
        ProfileScore = 0;
        foreach (var rule in model.ProfileRules)
        {
            var matched = ProfileConditions.Evaluate(rule.Condition, Profile, model.Lists) == true;
            ProfileRuleMatched.Add(matched);
            if (matched) ProfileScore += rule.Points;
        }

        QualificationFitHolds.Clear();
        foreach (var rule in model.QualificationRules)
        {
            var holds = true;
            foreach (var condition in rule.Fit) holds &= ProfileConditions.Evaluate(condition, Profile, model.Lists) == true;
            QualificationFitHolds.Add(holds);
        }

        DisqualifyingHardRule = -1;
        for (var i = 0; i < model.HardRules.Count; i++)
        {
            var rule = model.HardRules[i];
            var holds = ProfileConditions.Evaluate(rule.Condition, Profile, model.Lists);
            var disqualifies = rule.Kind == HardRuleKind.Exclude
                ? holds == true
                : holds == false || (holds is null && rule.DisqualifyWhenUnknown);
            if (disqualifies)
            {
                DisqualifyingHardRule = i;
                break;
            }
        }
    }

    private void MoveReference(long t, ScoringModel model)
    {
        if (!HasEvents)
        {
            HasEvents = true;
            ReferenceTicks = t;
            LatestEventTicks = t;
            return;
        }

        if ((t - ReferenceTicks) * model.MaxInvHalfLifeTicks <= RebaseAfterHalfLives) return;

        for (var i = 0; i < Rules.Count; i++)
        {
            var inv = model.RuleInvHalfLifeTicks[i];
            if (inv == 0) continue;
            var factor = double.Exp2((ReferenceTicks - t) * inv);
            Rules[i].Total *= factor;
            Rules[i].Base *= factor;
            Rules[i].Raw *= factor;
            Rules[i].RawBase *= factor;
        }

        foreach (ref var e in CollectionsMarshal.AsSpan(History))
        {
            var inv = model.RuleInvHalfLifeTicks[e.Rule];
            if (inv != 0) e.Value *= double.Exp2((ReferenceTicks - t) * inv);
        }

        ReferenceTicks = t;
    }

    internal double Normalised(int rule, long ticks, ScoringModel model)
    {
        var inv = model.RuleInvHalfLifeTicks[rule];
        return inv == 0 ? model.RulePoints[rule] : model.RulePoints[rule] * double.Exp2((ticks - ReferenceTicks) * inv);
    }

    /// <summary>
    /// Counts an event. A capped group admits only the points that fit under its cap at the event's instant (no
    /// reservoir above the cap, so a quiet lead loses points from the first day); a late event re-admits the
    /// group's later events in the history in time order, so the result does not depend on arrival order.
    /// </summary>
    private void Add(int r, long t, string eventId, ScoringModel model, bool late)
    {
        var acc = Rules[r];
        var inv = model.RuleInvHalfLifeTicks[r];
        var scale = inv == 0 ? 1 : double.Exp2((t - ReferenceTicks) * inv);
        var p = model.RulePoints[r];
        var g = model.RuleGroupIndex[r];
        var capped = !double.IsPositiveInfinity(model.GroupCap[g]);
        var admitted = capped && !late ? Admit(p, GroupLevel(g, model), scale, model.GroupCap[g]) : p;
        var v = admitted * scale;
        acc.Total += v;
        acc.Raw += p * scale;
        acc.Count++;
        acc.InsertLatest(t, eventId);
        InsertHistory(new CountedEvent { Rule = r, Ticks = t, Value = v, Admitted = admitted, EventId = eventId });
        if (capped && late) Readmit(g, t, model);

        // Fold the oldest half in one go once the history holds twice its size: amortised O(1) per event instead of
        // shifting the list on every event. At least HistorySize newest events always stay individual.
        var keep = model.HistorySize;
        if (History.Count < 2 * keep) return;
        for (var i = 0; i < keep; i++) FoldIntoBase(History[i], model);
        History.RemoveRange(0, keep);
    }

    private double GroupLevel(int g, ScoringModel model)
    {
        var level = 0.0;
        foreach (var rule in model.GroupRules[g]) level += Rules[rule].Total;
        return level;
    }

    /// <summary>The part of p that fits under ±cap on top of a group level (normalised by scale), same sign as p.</summary>
    private static double Admit(double p, double normalisedLevel, double scale, double cap)
    {
        var level = scale > 0 ? normalisedLevel / scale : 0;
        if (!double.IsFinite(level)) level = Math.CopySign(cap, level);
        var admitted = Math.Clamp(level + p, -cap, cap) - level;
        return Math.Clamp(admitted, Math.Min(0, p), Math.Max(0, p));
    }

    /// <summary>
    /// Re-admits group g's events in the history from <paramref name="fromTicks"/> on, in time order, against the
    /// level before them (folded events count as earlier: a late event older than the folded history is admitted
    /// against everything folded, the documented approximation for bounded state).
    /// </summary>
    private void Readmit(int g, long fromTicks, ScoringModel model)
    {
        // The level is carried in real points from event to event (one exp2 per step), not divided out of the
        // normalised sums: events centuries before the reference would underflow there.
        var cap = model.GroupCap[g];
        var inv = model.GroupInvHalfLifeTicks[g];
        var level = 0.0;
        foreach (var rule in model.GroupRules[g]) level += Rules[rule].Base;
        var levelAt = ReferenceTicks;
        var history = CollectionsMarshal.AsSpan(History);
        foreach (ref var e in history)
        {
            if (model.RuleGroupIndex[e.Rule] != g) continue;
            level = level == 0 || inv == 0 ? level : Math.Clamp(level * double.Exp2((levelAt - e.Ticks) * inv), -cap, cap);
            levelAt = e.Ticks;
            if (e.Ticks < fromTicks)
            {
                level += e.Admitted;
                continue;
            }

            var p = model.RulePoints[e.Rule];
            var admitted = Math.Clamp(Math.Clamp(level + p, -cap, cap) - level, Math.Min(0, p), Math.Max(0, p));
            var v = admitted * (inv == 0 ? 1 : double.Exp2((e.Ticks - ReferenceTicks) * inv));
            Rules[e.Rule].Total += v - e.Value;
            e.Value = v;
            e.Admitted = admitted;
            level += admitted;
        }
    }

    private void Remove(int r, long t, ScoringModel model)
    {
        var acc = Rules[r];
        var raw = Normalised(r, t, model);
        acc.Raw = --acc.Count == 0 ? 0 : acc.Raw - raw;
        acc.RemoveLatest(t);

        for (var i = History.Count - 1; i >= 0; i--)
        {
            if (History[i].Rule == r && History[i].Ticks == t)
            {
                acc.Total = acc.Count == 0 ? 0 : acc.Total - History[i].Value;
                History.RemoveAt(i);
                return;
            }
        }

        // Folded: its admitted share is no longer known; the raw points are the closest bound.
        acc.Total = acc.Count == 0 ? 0 : acc.Total - raw;
        acc.Base = --acc.BaseCount == 0 ? 0 : acc.Base - raw;
        acc.RawBase = acc.BaseCount == 0 ? 0 : acc.RawBase - raw;
    }

    private void FoldIntoBase(in CountedEvent e, ScoringModel model)
    {
        var acc = Rules[e.Rule];
        acc.Base += e.Value;
        acc.RawBase += Normalised(e.Rule, e.Ticks, model);
        acc.BaseCount++;
        if (e.Ticks > acc.BaseLastTicks) acc.BaseLastTicks = e.Ticks;
        if (e.Ticks > HistoryFloorTicks) HistoryFloorTicks = e.Ticks;
    }

    private void InsertHistory(CountedEvent entry)
    {
        int lo = 0, hi = History.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (History[mid].Ticks <= entry.Ticks) lo = mid + 1;
            else hi = mid;
        }

        History.Insert(lo, entry);
    }

    /// <summary>
    /// Drops counters for days older than the horizon before the newest event. A late event for such a day starts
    /// a fresh counter: the cap then applies among late arrivals only (documented trade-off for bounded state).
    /// </summary>
    private void PruneFrequencyBuckets(ScoringModel model)
    {
        var oldestKept = (int)(LatestEventTicks / TimeSpan.TicksPerDay) - model.FrequencyHorizonDays;
        foreach (var (key, bucket) in FrequencyBuckets)
        {
            if (bucket.Day < oldestKept) FrequencyBuckets.Remove(key);
        }

        FrequencyPruneAt = Math.Max(MinBucketsBeforePrune, FrequencyBuckets.Count * 2);
    }

    /// <summary>FNV-1a over (rule, day, activity): stable across processes (string.GetHashCode is not).</summary>
    internal static long FrequencyKey(int rule, string? activity, int day)
    {
        const ulong prime = 1099511628211;
        var h = 14695981039346656037UL;
        h = (h ^ (uint)rule) * prime;
        h = (h ^ (uint)day) * prime;
        if (activity is null)
        {
            h = (h ^ 0x1_0000) * prime;
        }
        else
        {
            foreach (var c in activity) h = (h ^ c) * prime;
        }

        return (long)h;
    }
}

/// <summary>Per engagement rule: decayed sums normalised to the state's reference instant, and explanation data.</summary>
public sealed class RuleAccumulator
{
    [JsonPropertyName("r")] public string RuleId { get; set; } = "";

    /// <summary>Σ p·2^((t−ref)/h) over all counted events.</summary>
    [JsonPropertyName("t"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public double Total { get; set; }

    [JsonPropertyName("c"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int Count { get; set; }

    /// <summary>The part of <see cref="Total"/> from events folded out of the history.</summary>
    [JsonPropertyName("b"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public double Base { get; set; }

    /// <summary>Like <see cref="Total"/> but with every event's full points, as if the group had no cap (for explanations).</summary>
    [JsonPropertyName("rt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public double Raw { get; set; }

    /// <summary>The part of <see cref="Raw"/> from events folded out of the history.</summary>
    [JsonPropertyName("rb"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public double RawBase { get; set; }

    [JsonPropertyName("bc"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int BaseCount { get; set; }
    [JsonPropertyName("bt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long BaseLastTicks { get; set; }

    /// <summary>The newest counted events (newest first, at most three): the top contributors of a rule are its newest.</summary>
    [JsonPropertyName("l")] public List<EventRef> Latest { get; set; } = new(LeadScoreState.LatestPerRule + 1);

    internal void InsertLatest(long ticks, string eventId)
    {
        var i = 0;
        while (i < Latest.Count && Latest[i].Ticks >= ticks) i++;
        if (i >= LeadScoreState.LatestPerRule) return;
        Latest.Insert(i, new EventRef { Ticks = ticks, EventId = eventId });
        if (Latest.Count > LeadScoreState.LatestPerRule) Latest.RemoveAt(Latest.Count - 1);
    }

    internal void RemoveLatest(long ticks)
    {
        for (var i = 0; i < Latest.Count; i++)
        {
            if (Latest[i].Ticks == ticks)
            {
                Latest.RemoveAt(i);
                return;
            }
        }
    }
}

public struct EventRef
{
    [JsonPropertyName("t")] public long Ticks { get; set; }
    [JsonPropertyName("e")] public string EventId { get; set; }
}

public struct CountedEvent
{
    [JsonPropertyName("r")] public int Rule { get; set; }
    [JsonPropertyName("t")] public long Ticks { get; set; }

    /// <summary>Admitted points·2^((t−ref)/h), normalised like the accumulators (so folding it into the base needs no exp2).</summary>
    [JsonPropertyName("v")] public double Value { get; set; }

    /// <summary>The points the group's cap admitted at the event's instant (not normalised: exact for past verdicts).</summary>
    [JsonPropertyName("a")] public double Admitted { get; set; }

    [JsonPropertyName("e")] public string EventId { get; set; }
}

/// <summary>The earliest counted occurrences (ticks, ascending) of one rule/activity/day, inline so updates do not allocate.</summary>
public struct FrequencyBucket
{
    public const int Capacity = 4;

    public int Day { get; set; }
    public int Count { get; set; }
    public long T0 { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long T1 { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long T2 { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long T3 { get; set; }

    [JsonIgnore]
    internal readonly long Last => Get(Count - 1);

    internal void Insert(long t)
    {
        var i = Count++;
        while (i > 0 && Get(i - 1) > t)
        {
            Set(i, Get(i - 1));
            i--;
        }

        Set(i, t);
    }

    /// <summary>Replaces the latest counted occurrence with an earlier one and returns the replaced one.</summary>
    internal long ReplaceLast(long t)
    {
        var last = Last;
        Count--;
        Insert(t);
        return last;
    }

    private readonly long Get(int i) => i switch { 0 => T0, 1 => T1, 2 => T2, _ => T3 };

    private void Set(int i, long v)
    {
        switch (i)
        {
            case 0: T0 = v; break;
            case 1: T1 = v; break;
            case 2: T2 = v; break;
            default: T3 = v; break;
        }
    }
}

/// <summary>The lead's profile, with per-field update instants so late profile updates do not overwrite newer values.</summary>
public sealed class LeadProfileState
{
    public string? Email { get; set; }
    public string? JobTitle { get; set; }
    public int? CompanySize { get; set; }
    public string? Industry { get; set; }
    public string? Country { get; set; }
    public bool? BudgetAuthority { get; set; }
    public long EmailTicks { get; set; }
    public long JobTitleTicks { get; set; }
    public long CompanySizeTicks { get; set; }
    public long IndustryTicks { get; set; }
    public long CountryTicks { get; set; }
    public long BudgetAuthorityTicks { get; set; }
    public DateTimeOffset? UpdatedAt { get; set; }

    internal void Merge(LeadProfile p, long? ticks)
    {
        var t = ticks ?? long.MaxValue;
        if (p.Email is not null && Newer(t, EmailTicks)) (Email, EmailTicks) = (p.Email, Stamp(ticks, EmailTicks));
        if (p.JobTitle is not null && Newer(t, JobTitleTicks)) (JobTitle, JobTitleTicks) = (p.JobTitle, Stamp(ticks, JobTitleTicks));
        if (p.CompanySize is not null && Newer(t, CompanySizeTicks)) (CompanySize, CompanySizeTicks) = (p.CompanySize, Stamp(ticks, CompanySizeTicks));
        if (p.Industry is not null && Newer(t, IndustryTicks)) (Industry, IndustryTicks) = (p.Industry, Stamp(ticks, IndustryTicks));
        if (p.Country is not null && Newer(t, CountryTicks)) (Country, CountryTicks) = (p.Country, Stamp(ticks, CountryTicks));
        if (p.BudgetAuthority is not null && Newer(t, BudgetAuthorityTicks)) (BudgetAuthority, BudgetAuthorityTicks) = (p.BudgetAuthority, Stamp(ticks, BudgetAuthorityTicks));
        if (ticks is { } at && (UpdatedAt is null || at > UpdatedAt.Value.UtcTicks)) UpdatedAt = new DateTimeOffset(at, TimeSpan.Zero);
    }

    private static bool Newer(long t, long existing) => t >= existing;

    // An update without a timestamp wins now but does not claim a time, so a later timestamped update still applies.
    private static long Stamp(long? ticks, long existing) => ticks ?? existing;
}

/// <summary>The state was built with another model; rebuild it (replay the lead's events) under the new one.</summary>
public sealed class ModelMismatchException(string stateModelId, int stateModelVersion, string modelId, int modelVersion)
    : InvalidOperationException(
        $"Lead score state was built with model '{stateModelId}' v{stateModelVersion} but model '{modelId}' v{modelVersion} was passed; " +
        "replay the lead's events into a new state (rebuild the projection) to score with another model.");

/// <summary>asOf is before the earliest instant this lead's bounded history can score exactly.</summary>
public sealed class AsOfOutOfRangeException(DateTimeOffset asOf, DateTimeOffset earliestExactAsOf, int historySize)
    : ArgumentOutOfRangeException(
        "asOf",
        $"as_of {asOf:O} is before {earliestExactAsOf:O}, the earliest instant this lead can be scored exactly " +
        $"(the state keeps its newest {historySize} events individually); replay the lead's events to score further back.")
{
    public DateTimeOffset AsOf { get; } = asOf;
    public DateTimeOffset EarliestExactAsOf { get; } = earliestExactAsOf;
}
