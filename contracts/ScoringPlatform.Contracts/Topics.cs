namespace ScoringPlatform.Contracts;

/// <summary>Kafka topic names. Services read them from configuration; these are the defaults.</summary>
public static class Topics
{
    /// <summary>Engagement events from websites and marketing systems, keyed by lead id (or anonymous id).</summary>
    public const string EngagementEvents = "engagement-events";

    /// <summary>Engagement messages the Ingestion service could not accept, with the reason in headers.</summary>
    public const string EngagementEventsDeadLetter = "engagement-events-dlq";

    /// <summary>Lifecycle messages (MqlCrossed, ...) published by the platform, keyed by lead id.</summary>
    public const string LeadLifecycle = "lead-lifecycle";
}

/// <summary>Kafka header names used on platform topics.</summary>
public static class Headers
{
    /// <summary>W3C trace context, propagated from producer to consumer.</summary>
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    /// <summary>Unique id of a message the platform publishes (consumers dedupe on it).</summary>
    public const string MessageId = "message-id";

    /// <summary>Message type of a lifecycle message, e.g. <c>MqlCrossed</c>.</summary>
    public const string MessageType = "message-type";

    public const string ContentType = "content-type";

    /// <summary>
    /// Lifecycle messages: the outbox position, increasing in the order the platform recorded the transitions (per lead
    /// and overall). A consumer that must not apply a lead's messages out of order compares it with the last one applied
    /// (after a broker failure a retried message can arrive after a later one of the same lead).
    /// </summary>
    public const string Sequence = "sequence";

    /// <summary>The scoring model a lifecycle message was judged by (id and version).</summary>
    public const string ModelId = "model-id";
    public const string ModelVersion = "model-version";

    /// <summary>Dead-letter headers: why the message was rejected and where it came from.</summary>
    public const string DeadLetterReason = "dlq-reason";
    public const string DeadLetterErrorCode = "dlq-error-code";
    public const string DeadLetterTopic = "dlq-original-topic";
    public const string DeadLetterPartition = "dlq-original-partition";
    public const string DeadLetterOffset = "dlq-original-offset";
}
