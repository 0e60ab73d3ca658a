using System.Text;
using System.Text.Json;
using FluentAssertions.Execution;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;
using Xunit.Abstractions;

namespace ScoringPlatform.FaultInjection.Tests;

[Collection(FaultCollection.Name)]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private const int ValidLeads = 100;
    private const int ValidEventsPerLead = 10;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Every kind of malformed message, how many are sent, and the reason code expected on the dead-letter topic.
    /// THE table to adjust when EngagementEventParser's codes change. Codes not in today's parser (invalid_utf8,
    /// invalid_lead_id, invalid_property, occurred_at_out_of_range, message_too_large) are the ones being added.
    /// </summary>
    private static readonly MalformedKind[] Kinds =
    [
        new("truncated JSON", 50, "malformed_json", m => Bytes(Valid(m))[..40]),
        new("not JSON", 60, "malformed_json", m => Bytes($"lead {m} visited pricing")),
        new("JSON null", 40, "malformed_json", _ => Bytes("null")),
        new("JSON array", 40, "malformed_json", m => Bytes($"[{Valid(m)}]")),
        new("JSON string", 30, "malformed_json", m => Bytes($"\"{m}\"")),
        new("empty message", 30, "empty_message", _ => []),
        new("NUL in leadId", 60, "invalid_lead_id", m => Bytes(Valid(m, leadId: $"{m}\\u0000x"))),
        new("NUL in a property value", 60, "invalid_property", m => Bytes(Valid(m, category: "pri\\u0000cing"))),
        new("NUL in id", 40, "invalid_id", m => Bytes(Valid(m, id: $"{m}\\u0000"))),
        new("invalid UTF-8 bytes", 60, "invalid_utf8", m => Replace(Bytes(Valid(m, category: "pri\\u00ffcing")), "\\u00ff"u8, [0xC3, 0x28])),
        new("lone surrogate escape", 60, "invalid_lead_id", m => Bytes(Valid(m, leadId: $"{m}\\ud800"))),
        new("10,000-character id", 40, "invalid_id", m => Bytes(Valid(m, id: m + new string('i', 10_000)))),
        new("10,000-character leadId", 40, "invalid_lead_id", m => Bytes(Valid(m, leadId: m + new string('l', 10_000)))),
        new("occurredAt as a number", 50, "invalid_occurred_at", m => Bytes(Valid(m, occurredAt: "1700000000"))),
        new("companySize as a string", 50, "invalid_traits", m => Bytes(Profile(m, companySize: "\"400\""))),
        new("missing id", 40, "missing_field", m => Bytes($$"""{"type":"page_viewed","leadId":"{{m}}","occurredAt":"2026-11-01T10:00:00Z"}""")),
        new("missing occurredAt", 40, "missing_field", m => Bytes($$"""{"id":"{{m}}","type":"page_viewed","leadId":"{{m}}"}""")),
        new("missing leadId", 40, "missing_lead", m => Bytes($$"""{"id":"{{m}}","type":"page_viewed","occurredAt":"2026-11-01T10:00:00Z"}""")),
        new("profile_updated without traits", 30, "missing_traits", m => Bytes(Valid(m, type: "profile_updated"))),
        new("unknown type", 40, "unknown_type", m => Bytes(Valid(m, type: "teleported"))),
        new("empty type", 20, "missing_type", m => Bytes(Valid(m, type: ""))),
        new("negative companySize", 30, "invalid_traits", m => Bytes(Profile(m, companySize: "-5"))),
        new("year 9999", 40, "occurred_at_out_of_range", m => Bytes(Valid(m, occurredAt: "\"9999-12-31T23:59:59Z\""))),
        new("400 KB message", 10, "message_too_large", m => Bytes(Valid(m, category: new string('x', 400_000)))),
    ];

    [Fact]
    public async Task Given_a_thousand_malformed_messages_among_valid_ones_When_ingested_Then_each_valid_event_is_stored_once_and_each_malformed_one_is_dead_lettered_with_its_reason()
    {
        Kinds.Sum(k => k.Count).Should().Be(1000, "the scenario sends a thousand malformed messages");
        await using var platform = await FaultPlatform.StartAsync(Service.Ingestion);
        var run = platform.RunId;

        var valid = Enumerable.Range(0, ValidLeads).SelectMany(l => Enumerable.Range(0, ValidEventsPerLead).Select(j =>
            Events.Engagement($"{run}-v{l:000}", j % 2 == 0 ? EngagementEventTypes.PageViewed : EngagementEventTypes.EmailClicked,
                DateTimeOffset.UtcNow, j % 2 == 0 ? PageCategories.Product : null, $"{run}-v{l:000}-e{j}"))).ToList();
        var malformed = Kinds.SelectMany(kind => Enumerable.Range(0, kind.Count).Select(n =>
        {
            var marker = $"{run}-bad-{Array.IndexOf(Kinds, kind):00}-{n:000}";
            return (Key: marker, Kind: kind, Value: kind.Build(marker));
        })).ToList();

        // Interleaved at random (seeded) so malformed messages sit between valid ones on every partition.
        var random = new Random(11);
        var sends = valid.Select(e => (Key: e.LeadId!, Value: JsonSerializer.SerializeToUtf8Bytes(e, ContractJson.Options)))
            .Concat(malformed.Select(m => (m.Key, m.Value)))
            .OrderBy(_ => random.Next()).ToList();
        foreach (var chunk in sends.Chunk(200))
        {
            await Task.WhenAll(chunk.Select(s => platform.Kafka.ProduceRawAsync(platform.EngagementTopic, s.Key, s.Value)));
        }

        // Sentinels, one per valid lead, after everything else: stored only if ingestion got past all of it.
        var sentinels = Enumerable.Range(0, ValidLeads)
            .Select(l => Events.Engagement($"{run}-v{l:000}", EngagementEventTypes.EmailOpened, DateTimeOffset.UtcNow, id: $"{run}-v{l:000}-sentinel")).ToList();
        await Task.WhenAll(sentinels.Select(s => platform.Kafka.ProduceAsync(platform.EngagementTopic, s.LeadId!, s)));
        var expected = valid.Concat(sentinels).Append(platform.Warmup).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);

        // Not ThrowIfAnyExited here: a crashed Ingestion is reported with the per-kind figures below.
        var (stored, allStored) = await Poll.UntilAsync(platform.StoredSourceEventIdsAsync,
            s => expected.All(s.ContainsKey) || platform.State(Service.Ingestion) != "running", Wait);
        allStored = expected.All(stored.ContainsKey);
        var deadLetters = platform.Kafka.ConsumeUntil(
            platform.DeadLetterTopic,
            r => r.Message.Key?.StartsWith(run + "-bad-", StringComparison.Ordinal) == true,
            found => found.Select(r => r.Message.Key).Distinct().Count() >= malformed.Count,
            allStored ? Wait : TimeSpan.FromSeconds(20));
        var byKey = deadLetters.GroupBy(r => r.Message.Key).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

        var perKind = Kinds.Select(kind =>
        {
            var ofKind = malformed.Where(m => m.Kind == kind).ToList();
            var codes = ofKind.Select(m => byKey.TryGetValue(m.Key, out var d) ? KafkaTestClient.Header(d[0], Headers.DeadLetterErrorCode) ?? "(no code)" : "(not dead-lettered)")
                .GroupBy(c => c).Select(g => $"{g.Key} x{g.Count()}");
            var intact = ofKind.Count(m => byKey.TryGetValue(m.Key, out var d) && (d[0].Message.Value ?? []).AsSpan().SequenceEqual(m.Value));
            return (Kind: kind, Observed: string.Join(", ", codes), DeadLettered: ofKind.Count(m => byKey.ContainsKey(m.Key)), Intact: intact,
                Correct: ofKind.Count(m => byKey.TryGetValue(m.Key, out var d) && KafkaTestClient.Header(d[0], Headers.DeadLetterErrorCode) == kind.ExpectedCode));
        }).ToList();

        var storedValid = expected.Count(stored.ContainsKey);
        output.WriteLine($"run {run}: {valid.Count} valid + {sentinels.Count} sentinels sent, {storedValid} stored; " +
                         $"{malformed.Count} malformed sent, {byKey.Count} dead-lettered ({deadLetters.Count - byKey.Count} duplicate deliveries)");
        foreach (var k in perKind) output.WriteLine($"{k.Kind.Name,-32} expected {k.Kind.ExpectedCode,-26} observed: {k.Observed}");
        if (!allStored) output.WriteLine(platform.Tail(Service.Ingestion, 40));

        using (new AssertionScope())
        {
            allStored.Should().BeTrue(
                $"ingestion should keep going past malformed messages and store all {expected.Count} valid events and sentinels within " +
                $"{Wait.TotalSeconds:0}s, but {expected.Count - storedValid} are missing; Ingestion {platform.State(Service.Ingestion)}; " +
                $"last store error: {LastStoreError(platform)}");
            expected.Where(id => stored.GetValueOrDefault(id) > 1).Should().BeEmpty("each valid event is stored exactly once");
            stored.Keys.Where(id => id.StartsWith(run + "-bad-", StringComparison.Ordinal)).Should().BeEmpty("no malformed message is stored");
            perKind.Where(k => k.Correct != k.Kind.Count)
                .Select(k => $"{k.Kind.Name}: expected {k.Kind.ExpectedCode} x{k.Kind.Count}, observed {k.Observed}")
                .Should().BeEmpty("every malformed message is dead-lettered with the reason code of its kind");
            perKind.Where(k => k.Intact != k.DeadLettered)
                .Select(k => $"{k.Kind.Name}: {k.Intact} of {k.DeadLettered} dead-lettered with the original bytes")
                .Should().BeEmpty("the dead-letter record keeps the original bytes");
        }
    }

    /// <summary>Diagnosis for a failure message only (the assertions are on counts): the last append error Ingestion logged.</summary>
    private static string LastStoreError(FaultPlatform platform)
    {
        var line = platform.Logs(Service.Ingestion).Split('\n').LastOrDefault(l => l.Contains("Event store append failed", StringComparison.Ordinal));
        if (line is null) return "(none logged)";
        // The innermost exception's message, without Marten's SQL dump or the stack.
        var arrow = line.LastIndexOf("---> ", StringComparison.Ordinal);
        var inner = arrow < 0 ? line : line[(arrow + 5)..];
        var end = inner.IndexOf("    at ", StringComparison.Ordinal);
        return (end < 0 ? inner : inner[..end]).Trim();
    }

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Replace(byte[] bytes, ReadOnlySpan<byte> what, ReadOnlySpan<byte> with)
    {
        var at = bytes.AsSpan().IndexOf(what);
        return [.. bytes.AsSpan(0, at), .. with, .. bytes.AsSpan(at + what.Length)];
    }

    // Raw JSON text (not serialized from a record) so each message carries exactly the defect it is meant to.
    private static string Valid(string marker, string? id = null, string type = "page_viewed", string? leadId = null,
        string occurredAt = "\"2026-11-01T10:00:00Z\"", string category = "pricing") =>
        $$$"""{"id":"{{{id ?? marker}}}","type":"{{{type}}}","leadId":"{{{leadId ?? marker}}}","occurredAt":{{{occurredAt}}},"properties":{"category":"{{{category}}}"}}""";

    private static string Profile(string marker, string companySize) =>
        $$$"""{"id":"{{{marker}}}","type":"profile_updated","leadId":"{{{marker}}}","occurredAt":"2026-11-01T10:00:00Z","traits":{"email":"a@b.com","companySize":{{{companySize}}}}}""";

    private sealed record MalformedKind(string Name, int Count, string ExpectedCode, Func<string, byte[]> Build);
}
