namespace ScoringPlatform.Leads.EventStore;

/// <summary>Marten event header names the platform writes.</summary>
public static class EventHeaders
{
    /// <summary>The W3C traceparent of the span that appended the event (continues the trace downstream).</summary>
    public const string TraceParent = "traceparent";
}
