using System.Text;
using ScoringPlatform.Contracts;

namespace ScoringPlatform.Platform.UnitTests;

public class EngagementEventParserTests
{
    private static readonly OccurredAtWindow Window = OccurredAtWindow.At(
        new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromDays(1), EngagementEventRules.DefaultOldestOccurredAt);

    private static bool Parse(string json, out EngagementEvent? evt, out RejectionReason? reason) =>
        EngagementEventParser.TryParse(Encoding.UTF8.GetBytes(json), Window, out evt, out reason);

    [Fact]
    public void A_valid_page_view_parses_with_its_properties()
    {
        var ok = Parse("""
            {"id":"e-1","type":"page_viewed","leadId":"lead-1","occurredAt":"2026-11-01T10:00:00Z",
             "source":"website","properties":{"category":"pricing","url":"/pricing"}}
            """, out var evt, out var reason);

        ok.Should().BeTrue(reason?.ToString());
        evt!.StreamKey.Should().Be("lead-1");
        evt.Property("category").Should().Be("pricing");
        evt.OccurredAt.Should().Be(new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero));
    }

    [Theory]
    [InlineData("not json", "malformed_json")]
    [InlineData("", "empty_message")]
    [InlineData("null", "malformed_json")]
    [InlineData("""{"type":"page_viewed","leadId":"l","occurredAt":"2026-11-01T10:00:00Z"}""", "missing_field")]
    [InlineData("""{"id":"","type":"page_viewed","leadId":"l","occurredAt":"2026-11-01T10:00:00Z"}""", "missing_id")]
    [InlineData("""{"id":"e","type":"teleported","leadId":"l","occurredAt":"2026-11-01T10:00:00Z"}""", "unknown_type")]
    [InlineData("""{"id":"e","type":"page_viewed","occurredAt":"2026-11-01T10:00:00Z"}""", "missing_lead")]
    [InlineData("""{"id":"e","type":"profile_updated","leadId":"l","occurredAt":"2026-11-01T10:00:00Z"}""", "missing_traits")]
    [InlineData("""{"id":"e","type":"page_viewed","leadId":"l","occurredAt":"yesterday"}""", "invalid_occurred_at")]
    public void Bad_messages_are_rejected_with_a_stable_code(string json, string code)
    {
        Parse(json, out var evt, out var reason).Should().BeFalse();
        evt.Should().BeNull();
        reason!.Code.Should().Be(code);
        reason.Message.Should().NotBeNullOrWhiteSpace();
    }

    [Fact]
    public void An_anonymous_event_uses_a_prefixed_stream_key()
    {
        Parse("""{"id":"e","type":"page_viewed","anonymousId":"cookie-9","occurredAt":"2026-11-01T10:00:00Z"}""", out var evt, out _)
            .Should().BeTrue();
        evt!.StreamKey.Should().Be("anon:cookie-9");
    }

    [Fact]
    public void Unknown_fields_are_ignored_for_forward_compatibility()
    {
        Parse("""{"id":"e","type":"email_opened","leadId":"l","occurredAt":"2026-11-01T10:00:00Z","newField":1}""", out _, out var reason)
            .Should().BeTrue(reason?.ToString());
    }

    [Fact]
    public void The_published_json_schema_lists_exactly_the_known_event_types()
    {
        using var stream = typeof(EngagementEvent).Assembly.GetManifestResourceStream("engagement-event.schema.json")!;
        using var doc = System.Text.Json.JsonDocument.Parse(stream);
        var types = doc.RootElement.GetProperty("properties").GetProperty("type").GetProperty("enum")
            .EnumerateArray().Select(e => e.GetString()).ToHashSet();
        types.Should().BeEquivalentTo(EngagementEventTypes.All);
        doc.RootElement.GetProperty("required").EnumerateArray().Select(e => e.GetString())
            .Should().Contain(["id", "type", "occurredAt"]);
    }
}
