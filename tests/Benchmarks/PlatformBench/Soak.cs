using System.Diagnostics;
using Confluent.Kafka;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>What the live projection did while a steady load ran: its gap behind the store, and shard pauses.</summary>
internal sealed record SoakResult(
    long Produced, TimeSpan Duration, List<double> GapSeconds, List<double> HighWaterGapSeconds, int PauseEpisodes, string? LastPause);

/// <summary>
/// Steady background load on the running platform (events for existing leads at a fixed rate, paced on a timeline),
/// while sampling the live projection: its gap behind the store every 100 ms (and the part of it the daemon's high-water
/// detection accounts for), and the Projections readiness every
/// 250 ms, counting each episode in which it reports a paused shard (the daemon pauses a shard whose page failed).
/// </summary>
internal static class Soak
{
    public static async Task<SoakResult> RunAsync(Platform platform, string topic, string runId, int leads, int ratePerSecond, TimeSpan duration)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = TestEnvironment.KafkaBootstrap, LingerMs = 5 }).Build();
        using var stop = new CancellationTokenSource(duration);
        var gaps = new List<double>();
        var highWaterGaps = new List<double>();
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
                gaps.Add(await platform.ProjectionGapSecondsAsync());
                highWaterGaps.Add(await platform.HighWaterGapSecondsAsync());
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
        return new SoakResult(produced, watch.Elapsed, gaps.Order().ToList(), highWaterGaps.Order().ToList(), pauses, lastPause);
    }
}
