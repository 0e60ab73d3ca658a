// Figure 3 of the benchmarks issue ("Verdicts"): GetVerdict latency under open-loop load over gRPC and REST
// against a running Api, beside empty gRPC / REST handlers hosted here, at the same rates in the same run.
using System.Globalization;
using ScoringPlatform.Benchmarks.VerdictLoad;

const string Usage = """
    usage: VerdictLoad [--grpc URL] [--rest URL] --leads FILE [--rates 1000,5000,10000] [--duration 10s] [--warmup 3s]
                       [--output FILE.md] [--channels 2] [--rest-connections 128] [--max-in-flight 2000] [--timeout 5s]
                       [--api-key KEY]
      --grpc URL           the Api's gRPC endpoint (h2c), e.g. http://127.0.0.1:5081
      --rest URL           the Api's REST endpoint, e.g. http://127.0.0.1:5080
      --leads FILE         lead ids that exist, one per line (requests take them round-robin)
      --rates LIST         requested rates in req/s; each rate runs every target (baselines first)
      --duration, --warmup measured time and unrecorded warm-up per target and rate (e.g. 10s, 500ms, 1m)
      --output FILE.md     append the markdown table and the target verdict to this file
      --channels N         gRPC channels (each may open several HTTP/2 connections)
      --rest-connections N most HTTP/1.1 connections for REST
      --max-in-flight N    outstanding requests beyond which due requests are dropped (counted as errors)
      --timeout T          per-request deadline (failures count as errors)
      --api-key KEY        sent as Authorization: Bearer KEY to every target (default: $SCORING_API_KEY); give the
                           key a rate limit above the offered rate (RateLimiting:Callers:<name>) or it measures the limiter
    Without --grpc and --rest only the baselines run.
    """;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 0; i < args.Length; i++)
{
    if (args[i] is "-h" or "--help") { Console.WriteLine(Usage); return 0; }
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length) { Console.Error.WriteLine($"bad argument '{args[i]}'\n{Usage}"); return 2; }
    options[args[i][2..]] = args[++i];
}
string[] known = ["grpc", "rest", "leads", "rates", "duration", "warmup", "output", "channels", "rest-connections", "max-in-flight", "timeout", "api-key"];
if (options.Keys.FirstOrDefault(k => !known.Contains(k)) is { } unknown) { Console.Error.WriteLine($"unknown option --{unknown}\n{Usage}"); return 2; }

Uri? grpcUrl = options.TryGetValue("grpc", out var g) ? new Uri(g) : null;
Uri? restUrl = options.TryGetValue("rest", out var r) ? new Uri(r) : null;
double[] rates = (options.GetValueOrDefault("rates") ?? "1000,5000,10000")
    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
    .Select(x => double.Parse(x.Replace("k", "000", StringComparison.OrdinalIgnoreCase), CultureInfo.InvariantCulture)).ToArray();
var duration = ParseDuration(options.GetValueOrDefault("duration") ?? "10s");
var warmup = ParseDuration(options.GetValueOrDefault("warmup") ?? "3s");
var timeout = ParseDuration(options.GetValueOrDefault("timeout") ?? "5s");
int channels = int.Parse(options.GetValueOrDefault("channels") ?? "2", CultureInfo.InvariantCulture);
int restConnections = int.Parse(options.GetValueOrDefault("rest-connections") ?? "128", CultureInfo.InvariantCulture);
int maxInFlight = int.Parse(options.GetValueOrDefault("max-in-flight") ?? "2000", CultureInfo.InvariantCulture);
string? output = options.GetValueOrDefault("output");
// The baselines get the same header, so both sides of each comparison carry the same bytes.
string? apiKey = options.GetValueOrDefault("api-key") ?? Environment.GetEnvironmentVariable("SCORING_API_KEY");

List<string> leads;
if (options.TryGetValue("leads", out var leadsFile))
{
    leads = File.ReadLines(leadsFile).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Distinct().ToList();
    if (leads.Count == 0) { Console.Error.WriteLine($"{leadsFile} has no lead ids"); return 2; }
}
else if (grpcUrl is not null || restUrl is not null) { Console.Error.WriteLine($"--leads is required with --grpc/--rest\n{Usage}"); return 2; }
else leads = Enumerable.Range(0, 100).Select(i => $"lead-{i}").ToList();
if (rates.Length == 0 || rates.Any(x => x <= 0)) { Console.Error.WriteLine("--rates needs positive numbers"); return 2; }

await using var baseline = await BaselineServer.StartAsync();
var targets = new List<LoadTarget>
{
    new GrpcTarget("empty gRPC handler", true, baseline.GrpcAddress, leads, channels, timeout, apiKey),
};
if (grpcUrl is not null) targets.Add(new GrpcTarget($"Api gRPC ({grpcUrl.Authority})", false, grpcUrl, leads, channels, timeout, apiKey));
targets.Add(new RestTarget("empty REST handler", true, baseline.RestAddress, leads, restConnections, timeout, apiKey));
if (restUrl is not null) targets.Add(new RestTarget($"Api REST ({restUrl.Authority})", false, restUrl, leads, restConnections, timeout, apiKey));

try
{
    // Fail fast on a wrong URL or lead file instead of reporting a table of errors.
    foreach (var t in targets)
    {
        var failures = new List<string>();
        for (int i = 0; i < Math.Min(leads.Count, 5); i++)
            if (await t.SendAsync(i) is { } error) failures.Add($"{leads[i]}: {error}");
        if (failures.Count > 0)
        {
            Console.Error.WriteLine($"{t.Name}: pre-flight GetVerdict failed ({string.Join("; ", failures)}); check the URL and that the leads exist");
            return 1;
        }
    }

    string header = Report.Header(string.Join(' ', args));
    Console.WriteLine(header);
    Console.WriteLine($"baseline server: gRPC {baseline.GrpcAddress}, REST {baseline.RestAddress}; {leads.Count} lead ids; " +
                      $"{targets.Count} targets × {rates.Length} rates × ({warmup.TotalSeconds:0.#}s warm-up + {duration.TotalSeconds:0.#}s)");
    // One unrecorded pass over every target first, so the first measured rows do not pay for JIT, tiering,
    // connection set-up and the services' own cold start (each measured run still has its own warm-up).
    Console.WriteLine($"warming up every target at {Report.Num(rates[0])} req/s for {warmup.TotalSeconds:0.#}s");
    foreach (var t in targets) OpenLoop.Run(t, rates[0], warmup, TimeSpan.Zero, maxInFlight, timeout + TimeSpan.FromSeconds(2));

    var results = new List<RunResult>();
    foreach (var rate in rates)
    {
        foreach (var t in targets)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Thread.Sleep(500);
            var result = OpenLoop.Run(t, rate, warmup, duration, maxInFlight, timeout + TimeSpan.FromSeconds(2));
            results.Add(result);
            Console.WriteLine($"  {result.Target,-36} {Report.Num(rate),7} req/s: achieved {Report.Num(result.AchievedRate),7}, ok {Report.Num(result.Ok)}, errors {Report.Num(result.Errors)}, " +
                              $"p50 {Report.Ms(result.Latency.PercentileMs(0.5))}, p99 {Report.Ms(result.Latency.PercentileMs(0.99))}, " +
                              $"p99.9 {Report.Ms(result.Latency.PercentileMs(0.999))}, max {Report.Ms(result.Latency.MaxMs)} ms");
        }
    }

    string table = Report.Table(results);
    string verdict = Report.Targets(results);
    Console.WriteLine();
    Console.WriteLine(table);
    Console.WriteLine(verdict);
    if (output is not null)
    {
        File.AppendAllText(output, $"{header}\n{table}\n{verdict}\n");
        Console.WriteLine($"appended to {output}");
    }
    return 0;
}
finally
{
    foreach (var t in targets) t.Dispose();
}

static TimeSpan ParseDuration(string s)
{
    s = s.Trim();
    double Num(string x) => double.Parse(x, CultureInfo.InvariantCulture);
    if (s.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(Num(s[..^2]));
    if (s.EndsWith('s')) return TimeSpan.FromSeconds(Num(s[..^1]));
    if (s.EndsWith('m')) return TimeSpan.FromMinutes(Num(s[..^1]));
    return TimeSpan.FromSeconds(Num(s));
}
