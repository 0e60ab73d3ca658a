using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/Scoring.Benchmarks -- --filter '*' [--job short]
// Artifacts go next to the binaries (bin/), not into the caller's working directory.
var config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);

Console.WriteLine();
Console.WriteLine("Scoring benchmark figures (per operation):");
Console.WriteLine($"{"benchmark",-48} {"mean ns",10} {"p50 ns",10} {"p95 ns",10} {"ops/s",14} {"alloc B",8}");
foreach (var summary in summaries)
{
    foreach (var report in summary.Reports.Where(r => r.ResultStatistics is not null))
    {
        var stats = report.ResultStatistics!;
        var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo,-48} {stats.Mean,10:F1} {stats.Percentiles.P50,10:F1} {stats.Percentiles.P95,10:F1} {1e9 / stats.Mean,14:N0} {allocated,8}"));
    }
}

public partial class Program;
