using System.Globalization;
using System.Text;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>Collects result rows and prints them as one markdown table (stdout and an optional file).</summary>
internal sealed class Report
{
    private readonly List<string[]> _rows = [];

    public void Add(string figure, string measured, string baseline = "", string ratio = "", string target = "", string verdict = "")
    {
        _rows.Add([figure, measured, baseline, ratio, target, verdict]);
        Console.WriteLine($"  {figure}: {measured}{(baseline.Length > 0 ? $"  (baseline {baseline}, ratio {ratio})" : "")}{(verdict.Length > 0 ? $"  [{verdict}]" : "")}");
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| figure | measured | baseline (same run) | ratio | target | vs target |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var r in _rows) sb.AppendLine("| " + string.Join(" | ", r) + " |");
        return sb.ToString();
    }

    public static string Rate(double perSecond) => perSecond.ToString("N0", CultureInfo.InvariantCulture) + "/s";
    /// <summary>Milliseconds; a probe that timed out is recorded as +∞ and shown as slower than its timeout.</summary>
    public static string Ms(double ms) => double.IsPositiveInfinity(ms) ? "timed out" : ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";
    public static string Ratio(double x) => x.ToString("0.00", CultureInfo.InvariantCulture) + "x";

    /// <summary>MET, or MISSED by how much (relative), for "at least" targets.</summary>
    public static string AtLeast(double measured, double target) =>
        measured >= target ? "MET" : $"MISSED by {(target - measured) / target:P0} ({measured:N0} < {target:N0})";

    /// <summary>MET, or MISSED by how much, for "at most" targets.</summary>
    public static string AtMost(double measured, double target, string unit) =>
        measured <= target ? "MET" :
        double.IsPositiveInfinity(measured) ? $"MISSED (over the probe timeout, > {target:N0} {unit})" :
        $"MISSED by {(measured - target) / target:P0} ({measured:N1} {unit} > {target:N0} {unit})";

    public static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
