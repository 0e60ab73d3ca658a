using System.Numerics;

namespace ScoringPlatform.Benchmarks.VerdictLoad;

/// <summary>
/// A small HdrHistogram-like latency histogram in microseconds, safe for concurrent recording.
/// Values below 128 us have their own bucket; above, every power-of-two range is split into 128 linear
/// sub-buckets, so a reported value is at most 1/128 (0.8 %) above the true one. Percentiles report the
/// upper bound of the bucket (capped by the exact maximum), i.e. they never flatter.
/// </summary>
/// <remarks>
/// Index of v >= 128: msb = floor(log2 v), shift = msb - 7, top = v >> shift (in [128, 255]),
/// index = 128 + shift * 128 + (top - 128). E.g. 128 -> 128, 255 -> 255, 256 -> 256 (bucket 256..257),
/// 511 -> 383 (bucket 510..511). Values of 2^41 us or more land in the last bucket (max stays exact).
/// </remarks>
public sealed class LatencyHistogram
{
    private const int SubBits = 7;
    private const int Sub = 1 << SubBits;
    private const int MaxMsb = 40;
    private readonly long[] _counts = new long[Sub + (MaxMsb - SubBits + 1) * Sub];
    private long _max;

    public void RecordMicroseconds(long us)
    {
        if (us < 0) us = 0;
        Interlocked.Increment(ref _counts[IndexOf(us)]);
        long seen = Volatile.Read(ref _max);
        while (us > seen)
        {
            long prev = Interlocked.CompareExchange(ref _max, us, seen);
            if (prev == seen) break;
            seen = prev;
        }
    }

    public void RecordTicks(long stopwatchTicks) =>
        RecordMicroseconds((long)(stopwatchTicks * (1_000_000.0 / System.Diagnostics.Stopwatch.Frequency)));

    public long Count
    {
        get { long n = 0; for (int i = 0; i < _counts.Length; i++) n += Volatile.Read(ref _counts[i]); return n; }
    }

    public long MaxMicroseconds => Volatile.Read(ref _max);

    /// <summary>The smallest recorded bucket bound such that at least q of the values are at or below it (NaN when empty).</summary>
    public double PercentileMs(double q)
    {
        long total = Count;
        if (total == 0) return double.NaN;
        long rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank) return Math.Min(UpperBoundOf(i), MaxMicroseconds) / 1000.0;
        }
        return MaxMicroseconds / 1000.0;
    }

    public double MaxMs => Count == 0 ? double.NaN : MaxMicroseconds / 1000.0;

    internal static int IndexOf(long v)
    {
        if (v < Sub) return (int)v;
        int msb = 63 - BitOperations.LeadingZeroCount((ulong)v);
        if (msb > MaxMsb) return Sub + (MaxMsb - SubBits + 1) * Sub - 1;
        int shift = msb - SubBits;
        int top = (int)(v >> shift);
        return Sub + shift * Sub + (top - Sub);
    }

    internal static long UpperBoundOf(int index)
    {
        if (index < Sub) return index;
        int shift = (index - Sub) / Sub;
        int sub = (index - Sub) % Sub;
        return ((long)(Sub + sub) << shift) + (1L << shift) - 1;
    }
}
