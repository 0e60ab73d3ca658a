using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using OpenTelemetry;
using OpenTelemetry.Context.Propagation;

namespace ScoringPlatform.ServiceDefaults;

/// <summary>The platform's ActivitySource and Meter, and W3C trace-context propagation through Kafka headers.</summary>
public static class PlatformTelemetry
{
    public const string ActivitySourceName = "ScoringPlatform";
    public const string MeterName = "ScoringPlatform";

    public static readonly ActivitySource Source = new(ActivitySourceName);
    public static readonly Meter Meter = new(MeterName);

    private static readonly TextMapPropagator Propagator = new CompositeTextMapPropagator(
        [new TraceContextPropagator(), new BaggagePropagator()]);

    /// <summary>Reads the parent context (traceparent/tracestate) a producer put on a Kafka message.</summary>
    public static PropagationContext Extract(Headers? headers) =>
        Propagator.Extract(default, headers, static (h, key) =>
            h is not null && h.TryGetLastBytes(key, out var value) ? [Encoding.UTF8.GetString(value)] : []);

    /// <summary>Writes the activity's context onto an outgoing Kafka message.</summary>
    public static void Inject(Activity? activity, Headers headers)
    {
        if (activity is null) return;
        Propagator.Inject(new PropagationContext(activity.Context, Baggage.Current), headers, static (h, key, value) =>
        {
            h.Remove(key);
            h.Add(key, Encoding.UTF8.GetBytes(value));
        });
    }

    /// <summary>Parses a stored W3C traceparent (e.g. from an event header) into a parent context.</summary>
    public static ActivityContext ParseTraceParent(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context) ? context : default;

    public static string? TraceParentOf(Activity? activity) => activity?.Id is { } id && activity.IdFormat == ActivityIdFormat.W3C ? id : null;
}
