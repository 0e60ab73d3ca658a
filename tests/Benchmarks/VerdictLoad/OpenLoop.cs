using System.Collections.Concurrent;
using System.Diagnostics;

namespace ScoringPlatform.Benchmarks.VerdictLoad;

/// <summary>The figures of one target at one requested rate.</summary>
internal sealed record RunResult(
    string Target,
    string Protocol,
    bool IsBaseline,
    double RequestedRate,
    double AchievedRate,
    long Ok,
    long Errors,
    long Dropped,
    LatencyHistogram Latency,
    LatencyHistogram SendLag,
    IReadOnlyDictionary<string, long> ErrorKinds)
{
    public long Scheduled => Ok + Errors;
    public double ErrorFraction => Scheduled == 0 ? 0 : (double)Errors / Scheduled;
}

/// <summary>
/// Open-loop load: request i is due at start + i / rate whatever happened to earlier ones. One dedicated
/// thread wakes about every millisecond and hands each due request to the thread pool; latency is measured
/// from the request's scheduled instant, so a stalled server (or a late generator) shows up as latency
/// instead of silently lowering the offered rate (no coordinated omission). When <c>maxInFlight</c>
/// requests are outstanding, a due request is dropped and counted as an error. Requests scheduled during
/// the warm-up are sent but not recorded.
/// </summary>
internal sealed class OpenLoop
{
    private readonly LoadTarget _target;
    private readonly LatencyHistogram _latency = new();
    private readonly LatencyHistogram _sendLag = new();
    private readonly ConcurrentDictionary<string, long> _errorKinds = new();
    private long _inFlight;
    private long _ok;
    private long _failed;
    private long _lastCompletion;

    private OpenLoop(LoadTarget target) => _target = target;

    public static RunResult Run(LoadTarget target, double rate, TimeSpan warmup, TimeSpan duration, int maxInFlight, TimeSpan drainTimeout)
    {
        var loop = new OpenLoop(target);
        long dropped = 0;
        double ticksPerRequest = Stopwatch.Frequency / rate;
        long warmupCount = (long)Math.Round(rate * warmup.TotalSeconds);
        long total = warmupCount + (long)Math.Round(rate * duration.TotalSeconds);
        long start = 0;

        var timer = new Thread(() =>
        {
            start = Stopwatch.GetTimestamp();
            long next = 0;
            while (next < total)
            {
                long now = Stopwatch.GetTimestamp();
                long due;
                while (next < total && (due = start + (long)(next * ticksPerRequest)) <= now)
                {
                    bool measured = next >= warmupCount;
                    if (Interlocked.Increment(ref loop._inFlight) > maxInFlight)
                    {
                        Interlocked.Decrement(ref loop._inFlight);
                        if (measured) dropped++;
                    }
                    else
                    {
                        if (measured) loop._sendLag.RecordTicks(now - due);
                        ThreadPool.UnsafeQueueUserWorkItem(new Request(loop, next, due, measured), preferLocal: false);
                    }
                    next++;
                }
                if (next < total) Thread.Sleep(1);
            }
        })
        { IsBackground = true, Name = "open-loop timer", Priority = ThreadPriority.AboveNormal };
        timer.Start();
        timer.Join();

        var drainUntil = Stopwatch.GetTimestamp() + (long)(drainTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Interlocked.Read(ref loop._inFlight) > 0 && Stopwatch.GetTimestamp() < drainUntil) Thread.Sleep(5);
        long stuck = Interlocked.Read(ref loop._inFlight);
        if (stuck > 0) loop._errorKinds.AddOrUpdate("still in flight after drain", stuck, (_, n) => n + stuck);

        long ok = Interlocked.Read(ref loop._ok);
        long measureStart = start + (long)(warmupCount * ticksPerRequest);
        long measureEnd = Math.Max(start + (long)(total * ticksPerRequest), Interlocked.Read(ref loop._lastCompletion));
        double seconds = (measureEnd - measureStart) / (double)Stopwatch.Frequency;
        if (dropped > 0) loop._errorKinds["dropped (in-flight cap)"] = dropped;
        return new RunResult(target.Name, target.Protocol, target.IsBaseline, rate, seconds > 0 ? ok / seconds : 0,
            ok, Interlocked.Read(ref loop._failed) + dropped + stuck, dropped, loop._latency, loop._sendLag,
            new Dictionary<string, long>(loop._errorKinds));
    }

    private async Task SendAsync(long seq, long due, bool measured)
    {
        string? error;
        try
        {
            error = await _target.SendAsync(seq).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            error = e.GetType().Name;
        }
        long done = Stopwatch.GetTimestamp();
        if (measured)
        {
            if (error is null)
            {
                _latency.RecordTicks(done - due);
                Interlocked.Increment(ref _ok);
                long last = Volatile.Read(ref _lastCompletion);
                while (done > last)
                {
                    long prev = Interlocked.CompareExchange(ref _lastCompletion, done, last);
                    if (prev == last) break;
                    last = prev;
                }
            }
            else
            {
                Interlocked.Increment(ref _failed);
                _errorKinds.AddOrUpdate(error, 1, (_, n) => n + 1);
            }
        }
        Interlocked.Decrement(ref _inFlight);
    }

    private sealed class Request(OpenLoop loop, long seq, long due, bool measured) : IThreadPoolWorkItem
    {
        public void Execute() => _ = loop.SendAsync(seq, due, measured);
    }
}
