using System.Text.Json;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads.EventStore;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>
/// The headers column the set-based append writes per event (SetBasedAppendTests diffs it against Marten's own append for
/// real trace contexts); here, that the shortcut for a W3C traceparent and the serializer's way give the same JSON.
/// </summary>
public class EventHeadersJsonTests
{
    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    [InlineData("not a \"traceparent\" \\ at all \u00e9")]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01")]
    public void The_headers_hold_the_traceparent_as_the_serializer_writes_it(string traceParent)
    {
        var json = SetBasedAppend.HeadersJson(traceParent);

        using var written = JsonDocument.Parse(json);
        using var expected = JsonDocument.Parse(JsonSerializer.Serialize(new Dictionary<string, string> { [EventHeaders.TraceParent] = traceParent }));
        JsonElement.DeepEquals(written.RootElement, expected.RootElement).Should().BeTrue(json);
        written.RootElement.GetProperty(EventHeaders.TraceParent).GetString().Should().Be(traceParent);
    }
}
