using System.Diagnostics;
using Confluent.Kafka;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>What the live projection did while a steady load ran: its gap behind the store, and shard pauses.</summary>
internal sealed record SoakResult(
    long Produced, TimeSpan Duration, List<double> GapSeconds, List<double> HighWaterGapSeconds, int PauseEpisodes, string? LastPause,
    List<GapSample> Samples)
{
    /// <summary>
    /// The stretches in which the gap stayed above <paramref name="thresholdSeconds"/>: when each began (seconds into the
    /// soak), how long it lasted and its worst gap, so a tail can be lined up with the services' and PostgreSQL's logs.
    /// </summary>
    public List<(double Start, double Seconds, double MaxGap)> Episodes(double thresholdSeconds)
    {
        var episodes = new List<(double, double, double)>();
        double? start = null;
        double max = 0;
        foreach (var s in Samples)
        {
            if (s.Gap > thresholdSeconds)
            {
                start ??= s.At;
                max = Math.Max(max, s.Gap);
            }
            else if (start is { } began)
            {
                episodes.Add((began, s.At - began, max));
                (start, max) = (null, 0);
            }
        }

        if (start is { } open) episodes.Add((open, Samples[^1].At - open, max));
        return episodes;
    }

    /// <summary>Writes the samples as CSV (seconds into the soak, UTC time, gap, high-water gap).</summary>
    public void WriteSamples(string path, DateTime startedUtc) =>
        File.WriteAllLines(path, Samples.Select(s => string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{s.At:0.000},{startedUtc.AddSeconds(s.At):HH:mm:ss.fff},{s.Gap:0.000},{s.HighWaterGap:0.000}"))
            .Prepend("seconds,utc,gap_s,high_water_gap_s"));
}

/// <summary>One look at the live projection during a soak: when (seconds into it), its gap and the high-water mark's.</summary>
internal readonly record struct GapSample(double At, double Gap, double HighWaterGap);

/// <summary>
/// Steady background load on the running platform (events for existing leads at a fixed rate, paced on a timeline),
/// while sampling the live projection: its gap behind the store every 100 ms (and the part of it the daemon's high-water
/// detection accounts for), and the Projections readiness every
/// 250 ms, counting each episode in which it reports a paused shard (the daemon pauses a shard whose page failed).
/// </summary>
internal static class Soak
{
    /// <summary>
    /// Prints the stretches over the 0.6 s (the longest ten) and keeps every sample in
    /// <c>$SCORING_RUN_DIR/logs/soak-&lt;run&gt;.csv</c>, with UTC times to line up with the services' and PostgreSQL's logs.
    /// </summary>
    public static void Describe(SoakResult soak, string runId, DateTime startedUtc)
    {
        var episodes = soak.Episodes(0.6);
        Console.WriteLine($"soak: {episodes.Count} stretches with the gap over 600 ms, {episodes.Sum(e => e.Seconds):0.#} s in all" +
                          (episodes.Count == 0 ? "" : "; the longest (start UTC, seconds, worst gap):"));
        foreach (var (start, seconds, maxGap) in episodes.OrderByDescending(e => e.Seconds).Take(10).OrderBy(e => e.Start))
            Console.WriteLine($"  {startedUtc.AddSeconds(start):HH:mm:ss} (+{start:0}s) {seconds:0.0} s, worst {maxGap * 1000:N0} ms");
        var logs = Path.Combine(Environment.GetEnvironmentVariable("SCORING_RUN_DIR") ?? Path.GetTempPath(), "logs");
        Directory.CreateDirectory(logs);
        var file = Path.Combine(logs, $"soak-{runId}.csv");
        soak.WriteSamples(file, startedUtc);
        Console.WriteLine($"soak: samples in {file}");
    }

    public static async Task<SoakResult> RunAsync(Platform platform, string topic, string runId, int leads, int ratePerSecond, TimeSpan duration)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = TestEnvironment.KafkaBootstrap, LingerMs = 5 }).Build();
        using var stop = new CancellationTokenSource(duration);
        var samples = new List<GapSample>();
        var started = Stopwatch.StartNew();
        var pauses = 0;
        string? lastPause = null;

        var load = Task.Run(async () =>
        {
            using var generated = Workload.Generate(int.MaxValue, leads, runId + "-soak", seed: 11).GetEnumerator();
            var watch = Stopwatch.StartNew();
            long sent = 0;
            while (!stop.IsCancellationRequested)
            {
                var due = (long)(watch.Elapsed.TotalSeconds * ratePerSecond);
                for (; sent < due && generated.MoveNext(); sent++)
                {
                    producer.Produce(topic, new Message<string, byte[]> { Key = generated.Current.Key, Value = generated.Current.Value });
                }

                await Task.Delay(2);
            }

            producer.Flush();
            return sent;
        });

        var gapSampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var at = started.Elapsed.TotalSeconds;
                samples.Add(new GapSample(at, await platform.ProjectionGapSecondsAsync(), await platform.HighWaterGapSecondsAsync()));
                await Task.Delay(100);
            }
        });

        var pauseWatcher = Task.Run(async () =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var paused = false;
            while (!stop.IsCancellationRequested)
            {
                var readiness = await platform.ReadinessAsync("Projections", http);
                var now = readiness is { Body: var body } && body.Contains("paused projection shard", StringComparison.Ordinal);
                if (now && !paused)
                {
                    pauses++;
                    lastPause = readiness!.Value.Body;
                }

                paused = now;
                await Task.Delay(250);
            }
        });

        var watch = Stopwatch.StartNew();
        var produced = await load;
        await Task.WhenAll(gapSampler, pauseWatcher);
        return new SoakResult(produced, watch.Elapsed, samples.Select(s => s.Gap).Order().ToList(),
            samples.Select(s => s.HighWaterGap).Order().ToList(), pauses, lastPause, samples);
    }
}
