using System.Diagnostics.Metrics;
using System.Text.Json.Serialization;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Tracking.Endpoints;

/// <summary>The stable <c>code</c> values of an error answer (docs/tracking.md lists them).</summary>
public static class TrackingErrors
{
    public const string InvalidJson = "invalid_json";
    public const string RequestTooLarge = "request_too_large";
    public const string MessageTooLarge = "message_too_large";
    public const string MissingField = "missing_field";
    public const string InvalidField = "invalid_field";
    public const string UnsupportedType = "unsupported_type";
    public const string Unauthorized = "unauthorized";
    public const string RateLimited = "rate_limited";
    public const string Unavailable = "unavailable";
}

/// <summary>
/// The answer body, Segment's shape: <c>{"success": true}</c>, or <c>{"success": false, "code", "error", "index"?,
/// "field"?}</c> for every refusal (400, 401, 429, 503), so a client reads one shape whatever went wrong.
/// </summary>
public sealed record TrackingResponse(
    bool Success,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Code = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Index = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Field = null);

public static class TrackingResults
{
    public static IResult Ok() => Results.Json(new TrackingResponse(true));

    public static IResult Error(int status, string code, string message, int? index = null, string? field = null) =>
        Results.Json(new TrackingResponse(false, code, message, index, field), statusCode: status);
}

/// <summary>The service's instruments on the platform meter (<c>scoring.tracking.*</c>).</summary>
public static class TrackingMetrics
{
    private static readonly Counter<long> Requests = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.tracking.requests", "{request}", "Tracking API requests, by call and status code");
    private static readonly Counter<long> Produced = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.tracking.events.produced", "{event}", "Engagement events the broker acknowledged, by type");
    private static readonly Counter<long> Rejections = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.tracking.rejections", "{request}", "Refused requests, by error code");
    private static readonly Counter<long> Ignored = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.tracking.messages.ignored", "{message}", "Accepted calls that map to no engagement event (group)");
    private static readonly Counter<long> DroppedValues = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.tracking.values.dropped", "{value}", "Optional values (traits, context) left out because the contract refuses them");

    public static void Request(string call, int status) =>
        Requests.Add(1, new("call", call), new("status", status));

    public static void EventProduced(string type) => Produced.Add(1, new KeyValuePair<string, object?>("type", type));

    public static void Rejected(string code) => Rejections.Add(1, new KeyValuePair<string, object?>("reason", code));

    public static void MessageIgnored(string call) => Ignored.Add(1, new KeyValuePair<string, object?>("call", call));

    public static void ValueDropped(string field) => DroppedValues.Add(1, new KeyValuePair<string, object?>("field", field));
}
