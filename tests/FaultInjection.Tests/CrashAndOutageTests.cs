using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Headers = ScoringPlatform.Contracts.Headers;
using FluentAssertions.Execution;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;
using Xunit.Abstractions;

namespace ScoringPlatform.FaultInjection.Tests;

[Collection(FaultCollection.Name)]
public sealed class CrashAndOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan OutageDuration = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task Given_load_with_every_service_killed_and_a_database_outage_When_each_leads_sentinel_is_scored_Then_every_event_is_stored_once_and_every_crossing_is_published_once()
    {
        await using var platform = await FaultPlatform.StartAsync(Service.Ingestion, Service.Projections, Service.Api);
        var plan = LoadPlan.Build(platform.RunId, DateTimeOffset.UtcNow);
        var sent = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal) { [platform.Warmup.Id] = 0 };
        var recoveries = new List<(string Fault, Task<TimeSpan> Recovery)>();
        var faultNotes = new List<string>();

        // Every message twice, in lead-interleaved order: a redelivery and a real duplicate look the same.
        var messages = plan.Events.SelectMany(e => new[] { e, e }).ToList();
        var quarter = messages.Count / 4;
        async Task ProduceAsync(IEnumerable<EngagementEvent> events)
        {
            var batch = events.ToList();
            foreach (var e in batch) sent.TryAdd(e.Id, 0);
            await Task.WhenAll(batch.Select(e => platform.Kafka.ProduceAsync(platform.EngagementTopic, e.LeadId!, e)));
        }

        // Recovery: from the restart (or PostgreSQL start) until an event produced after it is in a verdict.
        Task<TimeSpan> RecoveryProbe(string fault, long since)
        {
            var lead = $"{platform.RunId}-probe-{recoveries.Count}";
            var probe = Events.Engagement(lead, EngagementEventTypes.EmailOpened, DateTimeOffset.UtcNow, id: lead + "-e0");
            sent.TryAdd(probe.Id, 0);
            return Task.Run(async () =>
            {
                await platform.Kafka.ProduceAsync(platform.EngagementTopic, lead, probe);
                var (_, met) = await Poll.UntilAsync(() =>
                {
                    platform.ThrowIfAnyExited();
                    return platform.VerdictOrNullAsync(lead);
                }, v => v?.EventCount == 1, SettleTimeout);
                met.Should().BeTrue($"an event produced after '{fault}' should be scored within {SettleTimeout.TotalSeconds:0}s\n{platform.Logs()}");
                return Stopwatch.GetElapsedTime(since);
            });
        }

        // 0-25 %, then kill -9 Ingestion as soon as it is part-way through appending.
        await ProduceAsync(messages.Take(quarter));
        // > 1: the warm-up event is already stored.
        var (storedAtKill, _) = await Poll.UntilAsync(() => StoredCountAsync(platform), n => n > 1, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));
        var since = await platform.KillAndRestartAsync(Service.Ingestion);
        faultNotes.Add($"Ingestion killed with {storedAtKill - 1} of the load's {plan.Events.Count} events stored");
        recoveries.Add(("kill -9 Ingestion", RecoveryProbe("kill -9 Ingestion", since)));

        // 25-50 %, then kill -9 Projections while the score projection lags the store.
        await ProduceAsync(messages.Skip(quarter).Take(quarter));
        var (lag, _) = await Poll.UntilAsync(() => ProjectionLagAsync(platform), l => l > 0, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));
        since = await platform.KillAndRestartAsync(Service.Projections);
        faultNotes.Add($"Projections killed {lag} events behind the store");
        recoveries.Add(("kill -9 Projections", RecoveryProbe("kill -9 Projections", since)));

        since = await platform.KillAndRestartAsync(Service.Api);
        recoveries.Add(("kill -9 Api", RecoveryProbe("kill -9 Api", since)));

        // 50-75 %, then stop PostgreSQL (immediate) while Ingestion appends; the last quarter is produced during the outage.
        await ProduceAsync(messages.Skip(2 * quarter).Take(quarter));
        var before = await StoredCountAsync(platform);
        await Poll.UntilAsync(() => StoredCountAsync(platform), n => n > before, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));
        var outage = Stopwatch.StartNew();
        await FaultPlatform.StopPostgresImmediatelyAsync();
        try
        {
            await ProduceAsync(messages.Skip(3 * quarter));
            // The outage lasts a fixed time on purpose (the fault's shape); nothing is synchronised on it.
            if (outage.Elapsed < OutageDuration) await Task.Delay(OutageDuration - outage.Elapsed);
        }
        finally
        {
            faultNotes.Add($"PostgreSQL stopped with {before} events stored, down for {outage.Elapsed.TotalSeconds:0.0}s");
            since = Stopwatch.GetTimestamp();
            await platform.StartPostgresAsync();
        }

        recoveries.Add(("PostgreSQL stop -m immediate", RecoveryProbe("PostgreSQL stop -m immediate", since)));

        // Sentinels: a competitor email disqualifies a crossing lead at once (LeadDisqualified follows its MqlCrossed
        // on the same key), then one last event per lead whose count proves all earlier events were scored.
        await ProduceAsync(plan.Crossing.Select(lead => LoadPlan.CompetitorProfile(lead, DateTimeOffset.UtcNow)));
        await ProduceAsync(plan.Leads.Select(lead => LoadPlan.Sentinel(lead, DateTimeOffset.UtcNow)));

        var counts = await WaitForSentinelsAsync(platform, plan);
        var lifecycle = ReadLifecycleUntilEveryExit(platform, plan);
        var recovered = new List<(string Fault, TimeSpan Time)>();
        foreach (var (fault, recovery) in recoveries) recovered.Add((fault, await recovery));

        // A fresh event after all the faults is scored: nothing is stuck.
        var fresh = await RecoveryProbe("all faults", Stopwatch.GetTimestamp());
        var stored = await platform.StoredSourceEventIdsAsync();
        // Ready within a few probes, as an orchestrator's readiness probe would judge it (one failure does not
        // take a pod out); the failed probes before that are printed, a service never ready fails the test.
        var ready = new Dictionary<Service, (bool Ready, int FailedProbes)>();
        foreach (var service in Enum.GetValues<Service>())
        {
            var failed = 0;
            var (isReady, _) = await Poll.UntilAsync(async () =>
            {
                var ok = await platform.IsReadyAsync(service);
                if (!ok) failed++;
                return ok;
            }, ok => ok, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(1));
            ready[service] = (isReady, failed);
        }

        var report = LifecycleReport.From(lifecycle, plan);
        var validMessages = 1 + messages.Count + plan.Crossing.Count + plan.Leads.Count + recoveries.Count + 1;
        output.WriteLine($"run {platform.RunId}, schema {platform.Schema}: {plan.Leads.Count} leads, {plan.Crossing.Count} crossing");
        output.WriteLine($"messages sent: {validMessages} ({sent.Count} distinct events)");
        output.WriteLine($"events stored: {stored.Values.Sum()} ({stored.Count} distinct); duplicates dropped: {validMessages - stored.Values.Sum()}");
        output.WriteLine($"MqlCrossed deliveries: {report.CrossedDeliveries}, distinct message ids: {report.DistinctCrossedIds}, duplicate deliveries: {report.CrossedDeliveries - report.DistinctCrossedIds}");
        output.WriteLine($"LeadDisqualified deliveries: {report.ExitedDeliveries}, distinct message ids: {report.DistinctExitedIds}");
        foreach (var note in faultNotes) output.WriteLine(note);
        foreach (var (fault, time) in recovered) output.WriteLine($"recovery after {fault}: {time.TotalSeconds:0.0}s");
        output.WriteLine($"a fresh event after all faults scored in {fresh.TotalSeconds:0.0}s");
        foreach (var (service, (isReady, failed)) in ready) output.WriteLine($"{service} /health/ready: {(isReady ? "ready" : "NOT ready")} after {failed} failed probe(s)");

        using (new AssertionScope())
        {
            var wrongCounts = plan.Leads.Where(l => counts[l] != plan.ExpectedEventCount(l)).Select(l => $"{l}: {counts[l]} (expected {plan.ExpectedEventCount(l)})").ToList();
            wrongCounts.Should().BeEmpty("each lead's verdict counts every distinct event sent to it exactly once");

            var notOnce = sent.Keys.Where(id => stored.GetValueOrDefault(id) != 1).Select(id => $"{id} x{stored.GetValueOrDefault(id)}").ToList();
            notOnce.Should().BeEmpty("every valid event is stored exactly once");
            stored.Keys.Where(id => !sent.ContainsKey(id) && id.StartsWith(platform.RunId, StringComparison.Ordinal)).Should().BeEmpty("nothing is stored that was not sent");

            report.CrossingLeadsWithoutExactlyOneCrossing.Should().BeEmpty(
                "every crossing lead has exactly one distinct MqlCrossed message id before its LeadDisqualified");
            report.CrossingLeadsWithoutExit.Should().BeEmpty("every disqualified crossing lead has a LeadDisqualified");
            report.NonCrossingLeadsWithMessages.Should().BeEmpty("a lead that never crossed has no lifecycle message");

            ready.Where(r => !r.Value.Ready).Select(r => r.Key).Should().BeEmpty("every service is ready again within 15 s of the end of the faults");
        }
    }

    private static Task<long> StoredCountAsync(FaultPlatform platform) =>
        platform.ScalarAsync("select count(*) from {schema}.mt_events");

    private static Task<long> ProjectionLagAsync(FaultPlatform platform) =>
        platform.ScalarAsync(
            "select coalesce((select max(seq_id) from {schema}.mt_events), 0) - " +
            "coalesce((select min(last_seq_id) from {schema}.mt_event_progression where name like 'LeadScore%'), 0)");

    /// <summary>Waits until every lead's verdict counts its sentinel; fails with the leads that are behind.</summary>
    private async Task<Dictionary<string, long>> WaitForSentinelsAsync(FaultPlatform platform, LoadPlan plan)
    {
        var counts = plan.Leads.ToDictionary(l => l, _ => -1L, StringComparer.Ordinal);
        var pending = plan.Leads.ToHashSet(StringComparer.Ordinal);
        var started = Stopwatch.StartNew();
        var (_, met) = await Poll.UntilAsync(async () =>
        {
            platform.ThrowIfAnyExited();
            await Parallel.ForEachAsync(pending.ToList(), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (lead, _) =>
            {
                var verdict = await platform.VerdictOrNullAsync(lead);
                if (verdict is null) return;
                lock (counts) counts[lead] = verdict.EventCount;
                // >= rather than ==: an over-count is reported by the assertion, not waited on forever.
                if (verdict.EventCount >= plan.ExpectedEventCount(lead)) lock (pending) pending.Remove(lead);
            });
            return pending.Count;
        }, left => left == 0, SettleTimeout, TimeSpan.FromMilliseconds(500));

        met.Should().BeTrue(
            $"every lead's verdict should count its sentinel within {SettleTimeout.TotalSeconds:0}s; {pending.Count} behind, e.g. " +
            string.Join(", ", pending.Take(10).Select(l => $"{l}={counts[l]}/{plan.ExpectedEventCount(l)}")) + $"\n{platform.Logs()}");
        output.WriteLine($"all {plan.Leads.Count} sentinels scored {started.Elapsed.TotalSeconds:0.0}s after the last one was produced");
        return counts;
    }

    /// <summary>Reads lead-lifecycle from the beginning until every crossing lead's LeadDisqualified has been seen.</summary>
    private static List<ConsumeResult<string, byte[]>> ReadLifecycleUntilEveryExit(FaultPlatform platform, LoadPlan plan)
    {
        var exited = new HashSet<string>(StringComparer.Ordinal);
        var seen = 0;
        return platform.Kafka.ConsumeUntil(
            platform.LifecycleTopic,
            r => r.Message.Key?.StartsWith(platform.RunId, StringComparison.Ordinal) == true,
            found =>
            {
                for (; seen < found.Count; seen++)
                {
                    if (KafkaTestClient.Header(found[seen], Headers.MessageType) == LifecycleMessageTypes.LeadDisqualified) exited.Add(found[seen].Message.Key);
                }

                return plan.Crossing.All(exited.Contains);
            },
            TimeSpan.FromSeconds(90));
    }
}

/// <summary>The figures and findings of one read of lead-lifecycle.</summary>
internal sealed record LifecycleReport(
    int CrossedDeliveries,
    int DistinctCrossedIds,
    int ExitedDeliveries,
    int DistinctExitedIds,
    List<string> CrossingLeadsWithoutExactlyOneCrossing,
    List<string> CrossingLeadsWithoutExit,
    List<string> NonCrossingLeadsWithMessages)
{
    public static LifecycleReport From(List<ConsumeResult<string, byte[]>> messages, LoadPlan plan)
    {
        var byLead = messages.GroupBy(m => m.Message.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var crossed = messages.Where(m => KafkaTestClient.Header(m, Headers.MessageType) == LifecycleMessageTypes.MqlCrossed).ToList();
        var exited = messages.Where(m => KafkaTestClient.Header(m, Headers.MessageType) == LifecycleMessageTypes.LeadDisqualified).ToList();
        var withoutOne = new List<string>();
        var withoutExit = new List<string>();
        foreach (var lead in plan.Crossing)
        {
            var own = byLead.GetValueOrDefault(lead) ?? [];
            // One key is one partition, so consumption order is publication order.
            var firstExit = own.FindIndex(m => KafkaTestClient.Header(m, Headers.MessageType) == LifecycleMessageTypes.LeadDisqualified);
            if (firstExit < 0) withoutExit.Add(lead);
            var before = (firstExit < 0 ? own : own.Take(firstExit))
                .Where(m => KafkaTestClient.Header(m, Headers.MessageType) == LifecycleMessageTypes.MqlCrossed)
                .Select(m => KafkaTestClient.Header(m, Headers.MessageId)).Distinct().Count();
            if (before != 1) withoutOne.Add($"{lead}: {before} distinct MqlCrossed ids before its LeadDisqualified");
        }

        var crossing = plan.Crossing.ToHashSet(StringComparer.Ordinal);
        var strays = byLead.Where(kv => plan.Leads.Contains(kv.Key) && !crossing.Contains(kv.Key))
            .Select(kv => $"{kv.Key}: {string.Join(",", kv.Value.Select(m => KafkaTestClient.Header(m, Headers.MessageType)))}").ToList();
        return new LifecycleReport(
            crossed.Count, crossed.Select(m => KafkaTestClient.Header(m, Headers.MessageId)).Distinct().Count(),
            exited.Count, exited.Select(m => KafkaTestClient.Header(m, Headers.MessageId)).Distinct().Count(),
            withoutOne, withoutExit, strays);
    }
}

/// <summary>
/// The load: 500 leads with 10 events each, interleaved by lead.
/// Every fourth lead gets a fit profile, a pricing page view and a demo request (fit 40 + 20 + 30 = 90, a Hot
/// MQL) at random positions among its events, so crossings happen all through the load. The others only read
/// blog posts and open emails (at most 2 points each, far below 50).
/// </summary>
internal sealed class LoadPlan
{
    private const int LeadCount = 500;
    private const int EventsPerLead = 10;

    private LoadPlan(List<string> leads, List<string> crossing, List<EngagementEvent> events)
    {
        Leads = leads;
        Crossing = crossing;
        Events = events;
        _crossing = crossing.ToHashSet(StringComparer.Ordinal);
    }

    private readonly HashSet<string> _crossing;
    public IReadOnlyList<string> Leads { get; }
    public IReadOnlyList<string> Crossing { get; }
    public IReadOnlyList<EngagementEvent> Events { get; }

    /// <summary>The lead's events, its competitor profile if it crossed, and its sentinel.</summary>
    public long ExpectedEventCount(string lead) => EventsPerLead + (_crossing.Contains(lead) ? 1 : 0) + 1;

    public static LoadPlan Build(string runId, DateTimeOffset now)
    {
        var random = new Random(7);
        var leads = Enumerable.Range(0, LeadCount).Select(i => $"{runId}-L{i:000}").ToList();
        var crossing = leads.Where((_, i) => i % 4 == 0).ToList();
        var perLead = leads.Select(lead =>
        {
            var special = crossing.Contains(lead)
                ? Enumerable.Range(0, EventsPerLead).OrderBy(_ => random.Next()).Take(3).ToArray()
                : [];
            return Enumerable.Range(0, EventsPerLead).Select(j =>
            {
                var id = $"{lead}-e{j}";
                var at = now.AddSeconds(j - EventsPerLead);
                return Array.IndexOf(special, j) switch
                {
                    0 => TestSupport.Events.Profile(lead, at, TestSupport.Events.FitTraits) with { Id = id },
                    1 => TestSupport.Events.Engagement(lead, EngagementEventTypes.PageViewed, at, PageCategories.Pricing, id),
                    2 => TestSupport.Events.Engagement(lead, EngagementEventTypes.FormSubmitted, at, FormTypes.DemoRequest, id),
                    _ => j % 2 == 0
                        ? TestSupport.Events.Engagement(lead, EngagementEventTypes.PageViewed, at, PageCategories.Blog, id)
                        : TestSupport.Events.Engagement(lead, EngagementEventTypes.EmailOpened, at, id: id),
                };
            }).ToList();
        }).ToList();
        var events = Enumerable.Range(0, EventsPerLead).SelectMany(j => perLead.Select(l => l[j])).ToList();
        return new LoadPlan(leads, crossing, events);
    }

    /// <summary>An email at a competitor's domain: a hard-rule exclusion, so an MQL exits at once.</summary>
    public static EngagementEvent CompetitorProfile(string lead, DateTimeOffset at) =>
        TestSupport.Events.Profile(lead, at, TestSupport.Events.FitTraits with { Email = "someone@rivalscore.io" }) with { Id = lead + "-competitor" };

    public static EngagementEvent Sentinel(string lead, DateTimeOffset at) =>
        TestSupport.Events.Engagement(lead, EngagementEventTypes.EmailOpened, at, id: lead + "-sentinel");
}
