using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/Scoring.Benchmarks -- --filter '*' [--job short]
// Artifacts go next to the binaries (bin/), not into the caller's working directory.
var config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);

Console.WriteLine();
Console.WriteLine("Scoring benchmark figures (per operation; ratio = mean / the class's baseline mean in this run):");
Console.WriteLine($"{"benchmark",-34} {"mean ns",9} {"p50 ns",9} {"p99 ns",9} {"ratio",7} {"ops/s",13} {"alloc B",8}");
foreach (var summary in summaries)
{
    var baseline = summary.Reports.FirstOrDefault(r => r.BenchmarkCase.Descriptor.Baseline)?.ResultStatistics?.Mean;
    foreach (var report in summary.Reports.Where(r => r.ResultStatistics is not null))
    {
        var stats = report.ResultStatistics!;
        var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo,-34} {stats.Mean,9:F1} {stats.Percentiles.P50,9:F1} {stats.Percentiles.Percentile(99),9:F1} {(baseline is { } b ? stats.Mean / b : double.NaN),7:F2} {1e9 / stats.Mean,13:N0} {allocated,8}"));
    }
}

public partial class Program;
