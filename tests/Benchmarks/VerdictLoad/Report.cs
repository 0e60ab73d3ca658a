using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ScoringPlatform.Benchmarks.VerdictLoad;

/// <summary>Markdown table of all runs, ratios of the Api rows to the same-rate baseline, and the verdict target.</summary>
internal static class Report
{
    public const double TargetRate = 5000;
    public const double TargetP99Ms = 5;
    public const double TargetThroughputRatio = 0.5;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Header(string arguments)
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null;
        return $"### Verdicts: GetVerdict under open-loop load ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)\n\n" +
               $"Machine: {Environment.ProcessorCount} cores{(cpu is null ? "" : $" ({cpu})")}, {RuntimeInformation.OSDescription}, " +
               $"{RuntimeInformation.FrameworkDescription}{(load is null ? "" : $", load average {load} at start")}; load generator and baselines in one process, services under test on the same cores.  \n" +
               $"Arguments: `{arguments}`\n";
    }

    public static string Table(IReadOnlyList<RunResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| target | rate (req/s) | achieved (req/s) | ok | errors | p50 ms | p99 ms | p99.9 ms | max ms | send lag p99 ms | throughput ÷ baseline | p99 ÷ baseline |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            string thr = "", p99 = "";
            if (!r.IsBaseline && BaselineOf(results, r) is { } b)
            {
                thr = Ratio(r.AchievedRate / b.AchievedRate);
                p99 = Ratio(r.Latency.PercentileMs(0.99) / b.Latency.PercentileMs(0.99));
            }
            sb.AppendLine($"| {r.Target} | {Num(r.RequestedRate)} | {Num(r.AchievedRate)} | {Num(r.Ok)} | {Num(r.Errors)}{(r.Dropped > 0 ? $" ({Num(r.Dropped)} dropped)" : "")} | " +
                          $"{Ms(r.Latency.PercentileMs(0.5))} | {Ms(r.Latency.PercentileMs(0.99))} | {Ms(r.Latency.PercentileMs(0.999))} | {Ms(r.Latency.MaxMs)} | " +
                          $"{Ms(r.SendLag.PercentileMs(0.99))} | {thr} | {p99} |");
        }
        var errors = results.Where(r => r.ErrorKinds.Count > 0).ToList();
        if (errors.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Errors: " + string.Join("; ", errors.Select(r =>
                $"{r.Target} @ {Num(r.RequestedRate)}: " + string.Join(", ", r.ErrorKinds.OrderByDescending(e => e.Value).Select(e => $"{e.Key} × {Num(e.Value)}")))));
        }
        return sb.ToString();
    }

    /// <summary>"Verdict p99 <= 5 ms at 5,000 req/s, throughput at least half of the empty handler's", per protocol.</summary>
    public static string Targets(IReadOnlyList<RunResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Target: verdict p99 <= {TargetP99Ms} ms at {Num(TargetRate)} req/s, throughput at least half of the empty handler's.");
        sb.AppendLine();
        foreach (var protocol in new[] { "gRPC", "REST" })
        {
            var api = results.Where(r => r.Protocol == protocol && !r.IsBaseline).ToList();
            var baseline = results.Where(r => r.Protocol == protocol && r.IsBaseline).ToList();
            if (api.Count == 0) continue;

            var (latencyMet, latencyText) = Latency(api);
            var (throughputMet, throughputText) = Throughput(api, baseline);
            string overall = latencyMet is false || throughputMet is false ? "MISSED"
                : latencyMet is true && throughputMet is true ? "MET" : "NOT DETERMINED";
            sb.AppendLine($"- **{protocol}: {overall}**. p99 at {Num(TargetRate)} req/s: {latencyText}. Throughput: {throughputText}.");
        }
        return sb.ToString();
    }

    private static (bool? Met, string Text) Latency(List<RunResult> api)
    {
        var at = api.FirstOrDefault(r => r.RequestedRate == TargetRate);
        if (at is null) return (null, $"not measured (add {TargetRate:0} to --rates)");
        double p99 = at.Latency.PercentileMs(0.99);
        if (at.ErrorFraction > 0.01)
            return (false, $"MISSED: {at.ErrorFraction:P1} of requests failed or were dropped, so the p99 over all requests is unbounded (p99 of the successful ones {Ms(p99)} ms)");
        return p99 <= TargetP99Ms
            ? (true, $"MET, {Ms(p99)} ms <= {TargetP99Ms} ms ({Ms(TargetP99Ms - p99)} ms headroom)")
            : (false, $"MISSED by {Ms(p99 - TargetP99Ms)} ms ({Ms(p99)} ms = {Ratio(p99 / TargetP99Ms)} the target)");
    }

    /// <summary>
    /// Capacity is the best achieved rate over the rates tried. It is only known for a target that fell behind
    /// (achieved &lt; 95 % of requested, or &gt; 1 % errors) at the highest rate; otherwise it is at least that.
    /// </summary>
    private static (bool? Met, string Text) Throughput(List<RunResult> api, List<RunResult> baseline)
    {
        if (baseline.Count == 0) return (null, "no baseline measured");
        double apiBest = api.Max(r => r.AchievedRate), baseBest = baseline.Max(r => r.AchievedRate);
        bool apiSaturated = Saturated(api), baseSaturated = Saturated(baseline);
        double highest = baseline.Max(r => r.RequestedRate);
        double ratio = apiBest / baseBest;
        string figures = $"best achieved {Num(apiBest)} req/s vs empty handler {Num(baseBest)} req/s";
        if (baseSaturated)
        {
            string bound = apiSaturated ? "" : " (the Api kept up with every rate, so this is a lower bound)";
            return ratio >= TargetThroughputRatio
                ? (true, $"MET, {figures} = {Ratio3(ratio)} >= {Ratio3(TargetThroughputRatio)}{bound}")
                : apiSaturated
                    ? (false, $"MISSED by {Ratio3(TargetThroughputRatio - ratio)} ({figures} = {Ratio3(ratio)}; short by {Num(TargetThroughputRatio * baseBest - apiBest)} req/s)")
                    : (null, $"not determined: {figures} = {Ratio3(ratio)}{bound}; add higher rates");
        }
        if (apiSaturated && ratio < TargetThroughputRatio)
            return (false, $"MISSED, {figures} = {Ratio3(ratio)} at most (the empty handler kept up with {Num(highest)} req/s, its capacity is higher)");
        return (null, $"not determined: {figures}; the empty handler kept up with the highest rate ({Num(highest)} req/s){(apiSaturated ? "" : " and so did the Api")}, add higher rates to --rates to find its capacity");
    }

    private static bool Saturated(List<RunResult> runs)
    {
        var top = runs.MaxBy(r => r.RequestedRate)!;
        return top.AchievedRate < 0.95 * top.RequestedRate || top.ErrorFraction > 0.01;
    }

    private static RunResult? BaselineOf(IReadOnlyList<RunResult> results, RunResult r) =>
        results.FirstOrDefault(b => b.IsBaseline && b.Protocol == r.Protocol && b.RequestedRate == r.RequestedRate);

    public static string Num(double v) => v.ToString("N0", Inv);
    public static string Ms(double ms) => double.IsNaN(ms) ? "–" : ms.ToString(ms < 10 ? "0.00" : ms < 100 ? "0.0" : "0", Inv);
    private static string Ratio3(double x) => double.IsNaN(x) || double.IsInfinity(x) ? "–" : x.ToString("0.000", Inv) + "×";

    public static string Ratio(double x) => double.IsNaN(x) || double.IsInfinity(x) ? "–" : x.ToString("0.00", Inv) + "×";
}
