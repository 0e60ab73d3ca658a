using BenchmarkDotNet.Attributes;

namespace ScoringPlatform.Scoring.Benchmarks;

/// <summary>
/// Applying one event to a warm lead state (steady state: bounded history full, frequency buckets pruned), next to
/// a raw baseline that only does the decay arithmetic, so the ratio shows the cost of the bookkeeping.
/// </summary>
[MemoryDiagnoser]
public class ApplyBenchmarks
{
    private const int Batch = 1024;
    private const int StepMinutes = 30;
    private const long MaxMinutes = 1000L * 365 * 24 * 60;
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ScoringModel _model = ScoringModel.Default;
    private ScoringEvent[] _events = [];
    private LeadScoreState _state = new();
    private long _round;
    private double _raw;

    [GlobalSetup]
    public void Setup()
    {
        _events = BenchmarkEvents.Mixed(Batch, Start);
        _state = LeadScoreState.Create(_model);
        _state.ApplyProfile(new LeadProfile("ana@acme.com", "VP Marketing", 500, "Software", "DE", true), _model);
        for (var i = 0; i < 50; i++) ApplyBatch();
    }

    /// <summary>The decay arithmetic alone: one exp2 and one add per event.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public double RawDecayedSum()
    {
        var sum = _raw;
        var inv = 1.0 / TimeSpan.FromDays(30).Ticks;
        for (var i = 0; i < _events.Length; i++) sum += 20 * double.Exp2((i * TimeSpan.TicksPerMinute) * inv);
        return _raw = sum * 1e-9;
    }

    /// <summary>
    /// One event: rule lookup, frequency cap, accumulator, history, latest ids. Timestamps move 30 minutes per event and a
    /// (rule, activity) pair recurs every 32 hours, so every event is counted (none short-circuits on a frequency cap).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public ApplyResult ApplyOneEvent() => ApplyBatch(late: false);

    /// <summary>Worst case for ordering: within a batch every event is older than the one before (inserted at the front of the history).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public ApplyResult ApplyOneLateEvent() => ApplyBatch(late: true);

    private ApplyResult ApplyBatch(bool late = false)
    {
        if (_round * Batch * StepMinutes > MaxMinutes)
        {
            _round = 0;
            _state = LeadScoreState.Create(_model);
        }

        var baseTime = Start.AddMinutes(_round++ * Batch * StepMinutes);
        ApplyResult last = default;
        for (var i = 0; i < _events.Length; i++)
        {
            var e = _events[i] with { OccurredAt = baseTime.AddMinutes((late ? Batch - 1 - i : i) * StepMinutes) };
            last = _state.Apply(e, _model);
        }

        return last;
    }
}

/// <summary>Verdicts for a lead with ~40 events: with full explanation (and drop-below-exit instant), and the bare score.</summary>
[MemoryDiagnoser]
public class VerdictBenchmarks
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ScoringModel _model = ScoringModel.Default;
    private LeadScoreState _state = new();
    private DateTimeOffset _now;
    private DateTimeOffset _past;

    [GlobalSetup]
    public void Setup()
    {
        _state = LeadScoreState.Create(_model);
        _state.ApplyProfile(new LeadProfile("ana@acme.com", "VP Marketing", 500, "Software", "DE", true), _model);
        (string Type, string? Category)[] kinds =
        [
            ("page_viewed", "pricing"), ("page_viewed", "blog"), ("email_opened", null), ("email_clicked", null),
            ("webinar_attended", null), ("content_downloaded", null), ("form_submitted", "demo_request"), ("sales_contacted", null),
        ];
        for (var i = 0; i < 40; i++)
        {
            var kind = kinds[i % kinds.Length];
            _state.Apply(new ScoringEvent($"evt-{i}", kind.Type, Start.AddHours(i * 13), kind.Category, $"a{i}"), _model);
        }

        _now = Start.AddDays(30);
        _past = Start.AddDays(10);
        _state.UpdateStage(_now, _model);
    }

    [Benchmark(Baseline = true)]
    public double ScoreOnly() => Scorer.TotalScore(_state, _model, _now);

    [Benchmark]
    public Verdict VerdictWithExplanation() => Scorer.Evaluate(_state, _model, _now);

    [Benchmark]
    public Verdict VerdictWithExplanationAsOfPast() => Scorer.Evaluate(_state, _model, _past);

    [Benchmark]
    public DateTimeOffset? DropsBelowExitAt() => Scorer.DropsBelowExitAt(_state, _model, _now);
}

/// <summary>
/// The live projection's fold of one engagement event (issue 11): <see cref="Lifecycle.LeadTimeline.Record"/> of an input
/// newer than every kept one, on a lead whose kept history is full (compaction amortised in), beside applying the same
/// events to a bare score state, so the ratio is the lifecycle's cost over the scoring it wraps.
/// </summary>
[MemoryDiagnoser]
public class LifecycleBenchmarks
{
    private const int Batch = 256;
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ScoringModel _model = ScoringModel.Default;
    private ScoringEvent[] _events = [];
    private Lifecycle.LeadLifecycle _lead = new();
    private LeadScoreState _state = new();
    private DateTimeOffset _next = Start;

    [GlobalSetup]
    public void Setup()
    {
        _events = BenchmarkEvents.Mixed(Batch, Start);
        var profile = new LeadProfile("ana@acme.com", "VP Marketing", 500, "Software", "DE", true);
        _lead = Lifecycle.LeadLifecycle.Create(_model);
        Lifecycle.LeadTimeline.Record(_lead, new Lifecycle.ProfileInput("profile-0", Start, profile), _model);
        _state = LeadScoreState.Create(_model);
        _state.ApplyProfile(profile, _model);
        // Past the first compaction, so the kept history is between one and two model.HistorySize long.
        for (var i = 0; i < 4 * _model.HistorySize / Batch + 1; i++) RecordBatch();
    }

    /// <summary>The same events on a bare score state: what the lifecycle's head does for each input.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public ApplyResult ScoreStateOnly()
    {
        ApplyResult last = default;
        var at = _next;
        for (var i = 0; i < _events.Length; i++) last = _state.Apply(_events[i] with { EventId = $"s{at.Ticks}-{i}", OccurredAt = at.AddMinutes(i * 30) }, _model);
        _next = at.AddMinutes(_events.Length * 30);
        return last;
    }

    /// <summary>One in-order engagement input through the timeline: dedupe, apply, time-driven look-ahead, diff, compaction.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public Lifecycle.LifecycleUpdate RecordInOrder() => RecordBatch();

    private Lifecycle.LifecycleUpdate RecordBatch()
    {
        Lifecycle.LifecycleUpdate last = default!;
        var at = _next;
        for (var i = 0; i < _events.Length; i++)
        {
            var input = new Lifecycle.EngagementInput(_events[i] with { EventId = $"r{at.Ticks}-{i}", OccurredAt = at.AddMinutes(i * 30) });
            last = Lifecycle.LeadTimeline.Record(_lead, input, _model);
        }

        _next = at.AddMinutes(_events.Length * 30);
        return last;
    }
}

/// <summary>The events the apply and lifecycle benchmarks feed: eight kinds in turn, 64 activities.</summary>
internal static class BenchmarkEvents
{
    private static readonly (string Type, string? Category)[] Kinds =
    [
        ("page_viewed", "pricing"), ("page_viewed", "blog"), ("email_opened", null), ("email_clicked", null),
        ("webinar_attended", null), ("content_downloaded", null), ("page_viewed", "product"), ("form_submitted", "demo_request"),
    ];

    public static ScoringEvent[] Mixed(int count, DateTimeOffset at) =>
        [.. Enumerable.Range(0, count).Select(i => new ScoringEvent($"evt-{i}", Kinds[i % Kinds.Length].Type, at, Kinds[i % Kinds.Length].Category, $"activity-{i % 64}"))];
}
