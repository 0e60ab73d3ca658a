using Marten;
using Microsoft.Extensions.Options;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

public sealed class IdempotentAppendTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    private EngagementAppender Appender() => fixture.Appender(new IngestionOptions { AppendConcurrency = 2 });

    private static PendingEvent Pending(string lead, string sourceId) =>
        new(lead, EventIds.FromSourceId(sourceId),
            new EngagementRecorded(sourceId, "page_viewed", DateTimeOffset.UtcNow, "pricing", null, "tests", null), null);

    [Fact]
    public async Task An_event_delivered_twice_is_stored_once()
    {
        var lead = TestEnvironment.Unique("lead");
        var appender = Appender();

        var first = await appender.AppendAsync([Pending(lead, lead + "-a")], CancellationToken.None);
        var again = await appender.AppendAsync([Pending(lead, lead + "-a"), Pending(lead, lead + "-b")], CancellationToken.None);

        first.Should().Be(new AppendResult(1, 0));
        again.Should().Be(new AppendResult(1, 1));
        (await fixture.CountEventsAsync(lead)).Should().Be(2);
    }

    [Fact]
    public async Task Duplicates_inside_one_batch_count_once()
    {
        var lead = TestEnvironment.Unique("lead");
        var result = await Appender().AppendAsync([Pending(lead, lead + "-a"), Pending(lead, lead + "-a")], CancellationToken.None);

        result.Should().Be(new AppendResult(1, 1));
        (await fixture.CountEventsAsync(lead)).Should().Be(1);
    }

    [Fact]
    public async Task A_batch_split_over_parallel_transactions_keeps_each_leads_events_in_order_and_counts_each_once()
    {
        var leads = Enumerable.Range(0, 10).Select(_ => TestEnvironment.Unique("lead")).ToArray();
        var batch = Enumerable.Range(0, 60).Select(i => Pending(leads[i % 10], $"{leads[i % 10]}-{i / 10}")).ToList();
        batch.AddRange(batch.Take(5));

        var result = await Appender().AppendAsync(batch, CancellationToken.None);

        result.Should().Be(new AppendResult(60, 5));
        await using var query = fixture.Store.QuerySession();
        foreach (var lead in leads)
        {
            var stream = await query.Events.FetchStreamAsync(lead);
            stream.Select(e => ((EngagementRecorded)e.Data).SourceEventId)
                .Should().Equal(Enumerable.Range(0, 6).Select(n => $"{lead}-{n}"), "a lead's events keep their order");
        }
    }

    [Fact]
    public async Task The_unique_index_rejects_a_copy_the_pre_check_missed()
    {
        var lead = TestEnvironment.Unique("lead");
        var e = Pending(lead, lead + "-a");
        await using (var session = fixture.Store.LightweightSession())
        {
            session.Events.Append(lead, e.Data).Events[0].Id = e.EventId;
            await session.SaveChangesAsync();
        }

        // Appending the same id again through Marten directly (no pre-check) must fail: the store enforces it.
        var direct = async () =>
        {
            await using var session = fixture.Store.LightweightSession();
            session.Events.Append(lead, e.Data).Events[0].Id = e.EventId;
            await session.SaveChangesAsync();
        };
        await direct.Should().ThrowAsync<Exception>();
        (await fixture.CountEventsAsync(lead)).Should().Be(1);
    }

    [Fact]
    public async Task Stored_events_carry_the_trace_context_header()
    {
        var lead = TestEnvironment.Unique("lead");
        const string traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        await Appender().AppendAsync([Pending(lead, lead + "-a") with { TraceParent = traceParent }], CancellationToken.None);

        await using var query = fixture.Store.QuerySession();
        var events = await query.Events.FetchStreamAsync(lead);
        events.Should().ContainSingle();
        events[0].Headers.Should().ContainKey(EventHeaders.TraceParent);
        events[0].Headers![EventHeaders.TraceParent]!.ToString().Should().Be(traceParent);
    }
}
