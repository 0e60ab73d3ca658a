using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Api.Verdicts;

/// <summary>
/// Settings of the in-memory verdicts (section <c>Api:VerdictCache</c>). Defaults: enabled, a safety poll every 5 s,
/// 2,000 views a read, reconnection after 1 s doubling to 10 s.
/// </summary>
public sealed class VerdictCacheOptions
{
    public const string Section = "Api:VerdictCache";

    /// <summary>False: every verdict is read from the database (no feed, no memory, readiness as before).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the feed reads the change feed without a notification (a lost NOTIFY is found by then).</summary>
    public TimeSpan SafetyPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Views per read of the change feed.</summary>
    public int PageSize { get; set; } = 2_000;

    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The leads' verdict-only states (<see cref="VerdictState"/>), kept by <see cref="VerdictFeed"/> from the score views'
/// change feed and read by <see cref="LeadScoringService"/>. Lock-free reads; one writer (the feed).
/// </summary>
public sealed class LeadVerdictStore
{
    private readonly ConcurrentDictionary<string, VerdictEntry> _entries = new(StringComparer.Ordinal);
    private readonly ScoringModelProvider _models;
    private long _position;
    private long _refreshedAt = Stopwatch.GetTimestamp();
    private volatile bool _loaded;
    private volatile bool _connected;
    private long _hits;
    private long _misses;

    public LeadVerdictStore(ScoringModelProvider models)
    {
        _models = models;
        // Gauges for dashboards: how many leads memory answers for, the change feed position, and how long ago the feed
        // last read the database (grows while PostgreSQL is away; answers are that stale at most plus the projection's lag).
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.api.verdict_cache.entries", () => (long)_entries.Count, "{lead}",
            "Leads whose verdicts the Api answers from memory");
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.api.verdict_cache.position", () => Interlocked.Read(ref _position), "{sequence}",
            "The highest score view sequence (last_sequence) the Api has read");
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.api.verdict_cache.age", () => Age.TotalSeconds, "s",
            "Time since the Api last read the score views' change feed");
        PlatformTelemetry.Meter.CreateObservableCounter("scoring.api.verdict_cache.answers", () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref _hits), new KeyValuePair<string, object?>("source", "memory")),
            new Measurement<long>(Interlocked.Read(ref _misses), new KeyValuePair<string, object?>("source", "database")),
        }, "{verdict}", "Verdicts answered from memory and from the database");
    }

    /// <summary>The first full load completed: memory holds every view with a change feed position.</summary>
    public bool Loaded => _loaded;

    /// <summary>The feed's connection is up (false while it reconnects; memory keeps serving what it has).</summary>
    public bool Connected => _connected;

    public int Count => _entries.Count;
    public long Position => Interlocked.Read(ref _position);
    public TimeSpan Age => Stopwatch.GetElapsedTime(Interlocked.Read(ref _refreshedAt));
    public long MemoryAnswers => Interlocked.Read(ref _hits);
    public long DatabaseAnswers => Interlocked.Read(ref _misses);

    public bool Contains(string leadId) => _entries.ContainsKey(leadId);

    /// <summary>
    /// The verdict from memory, or null when memory cannot answer it exactly (unknown or merged id, as_of before the
    /// lead's clock, another model, nothing loaded yet): the caller reads the database then.
    /// </summary>
    public V1.Verdict? TryAnswer(string leadId, DateTimeOffset asOf)
    {
        if (!_loaded || !_entries.TryGetValue(leadId, out var entry) || asOf.UtcTicks < entry.FloorTicks)
        {
            Interlocked.Increment(ref _misses);
            return null;
        }

        var model = _models.Current;
        var view = VerdictState.Unpack(leadId, entry.Data, model);
        Interlocked.Increment(ref _hits);
        return VerdictEvaluation.Evaluate(leadId, asOf, view, model);
    }

    internal void Set(string leadId, VerdictEntry? entry)
    {
        if (entry is { } e) _entries[leadId] = e;
        else _entries.TryRemove(leadId, out _);
    }

    /// <summary>After a full reload: drops the leads it did not find (their views are gone).</summary>
    internal void RemoveAllExcept(HashSet<string> keep)
    {
        foreach (var id in _entries.Keys)
        {
            if (!keep.Contains(id)) _entries.TryRemove(id, out _);
        }
    }

    internal void Advanced(long position)
    {
        Interlocked.Exchange(ref _position, position);
        Interlocked.Exchange(ref _refreshedAt, Stopwatch.GetTimestamp());
    }

    internal void MarkLoaded() => _loaded = true;

    internal void MarkConnected(bool connected) => _connected = connected;
}
