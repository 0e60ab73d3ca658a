using System.Runtime.InteropServices;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ScoringPlatform.Contracts;
using ScoringPlatform.Tracking.Mapping;
using ScoringPlatform.Tracking.Producing;

namespace ScoringPlatform.Tracking.Endpoints;

/// <summary>
/// One tracking request: read the body within the size limit, map every message (all of them before anything is
/// produced, so a batch is accepted or refused whole), produce, and answer only from the broker's acknowledgements.
/// </summary>
public sealed partial class TrackingHandler(
    EngagementProducer producer,
    IOptions<TrackingOptions> options,
    TimeProvider clock,
    ILogger<TrackingHandler> logger)
{
    public const string Batch = "batch";

    private readonly TrackingOptions _options = options.Value;

    public async Task<IResult> HandleAsync(HttpContext http, string call)
    {
        var result = await HandleCoreAsync(http, call);
        if (result is IStatusCodeHttpResult { StatusCode: { } status }) TrackingMetrics.Request(call, status);
        return result;
    }

    private async Task<IResult> HandleCoreAsync(HttpContext http, string call)
    {
        var source = http.User.Identity!.Name!;
        var isBatch = call == Batch;
        var limit = isBatch ? _options.MaxBatchBytes : _options.MaxMessageBytes;
        var body = await ReadBodyAsync(http, limit);
        if (body is null)
        {
            return Refuse(source, isBatch ? TrackingErrors.RequestTooLarge : TrackingErrors.MessageTooLarge,
                $"the request body is larger than {limit} bytes (Segment's limits: {_options.MaxMessageBytes} bytes per message, {_options.MaxBatchBytes} per batch)");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            return Refuse(source, TrackingErrors.InvalidJson, body.Length == 0 ? "the request has no body" : $"the body is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var receivedAt = clock.GetUtcNow();
            var window = OccurredAtWindow.Default(clock);
            var root = document.RootElement;
            var mapped = new List<MapOutcome.Mapped>();
            if (!isBatch)
            {
                var outcome = SegmentMapper.Map(root, call, new MappingContext(source, receivedAt, null, window));
                if (Collect(outcome, mapped, source, index: null) is { } refusal) return refusal;
            }
            else
            {
                if (root.ValueKind != JsonValueKind.Object)
                    return Refuse(source, TrackingErrors.InvalidField, "a batch body is a JSON object: {\"batch\": [...], \"sentAt\": ...}");
                if (!root.TryGetProperty("batch", out var messages) || messages.ValueKind != JsonValueKind.Array)
                    return Refuse(source, TrackingErrors.MissingField, "a batch body needs 'batch', an array of messages", field: "batch");
                DateTimeOffset? sentAt = null;
                if (root.TryGetProperty("sentAt", out var sentAtElement) && sentAtElement.ValueKind != JsonValueKind.Null)
                {
                    if (sentAtElement.ValueKind != JsonValueKind.String || !SegmentMapper.TryParseTime(sentAtElement.GetString()!, out var parsed))
                        return Refuse(source, TrackingErrors.InvalidField, "'sentAt' must be an ISO 8601 timestamp", field: "sentAt");
                    sentAt = parsed;
                }

                var context = new MappingContext(source, receivedAt, sentAt, window);
                var index = 0;
                foreach (var message in messages.EnumerateArray())
                {
                    var size = JsonMarshal.GetRawUtf8Value(message).Length;
                    if (size > _options.MaxMessageBytes)
                    {
                        return Refuse(source, TrackingErrors.MessageTooLarge,
                            $"message {index} has {size} bytes; at most {_options.MaxMessageBytes} are accepted per message", index);
                    }

                    if (Collect(SegmentMapper.Map(message, null, context), mapped, source, index) is { } refusal) return refusal;
                    index++;
                }
            }

            try
            {
                await producer.ProduceAllAsync(mapped);
            }
            catch (KafkaException ex)
            {
                TrackingMetrics.Rejected(TrackingErrors.Unavailable);
                http.Response.Headers.RetryAfter = _options.UnavailableRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TrackingResults.Error(StatusCodes.Status503ServiceUnavailable, TrackingErrors.Unavailable,
                    $"the event broker did not acknowledge the events ({ex.Error.Code}); nothing is accepted, retry the whole request");
            }

            return TrackingResults.Ok();
        }
    }

    private IResult? Collect(MapOutcome outcome, List<MapOutcome.Mapped> mapped, string source, int? index)
    {
        switch (outcome)
        {
            case MapOutcome.Mapped m:
                mapped.Add(m);
                return null;
            case MapOutcome.Ignored ignored:
                TrackingMetrics.MessageIgnored(ignored.Call);
                return null;
            case MapOutcome.Refused refused:
                var where = index is null ? "" : $"message {index}: ";
                return Refuse(source, refused.Code, where + refused.Message, index, refused.Field.Length > 0 ? refused.Field : null);
            default:
                throw new InvalidOperationException(outcome.GetType().Name);
        }
    }

    /// <summary>
    /// The body, or null when it exceeds <paramref name="limit"/>. An oversized body is still read to its end (up to
    /// <see cref="DrainLimit"/>, where Kestrel stops it): a client still writing when the answer comes would see a
    /// broken connection instead of the 400 that tells it not to retry.
    /// </summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext http, int limit)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = Math.Max(DrainLimit, limit);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        long total = 0;
        try
        {
            int read;
            while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
            {
                total += read;
                if (total <= limit) buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }

        return total > limit ? null : buffer.ToArray();
    }

    /// <summary>How much of an oversized body is read (and discarded) so its sender still gets the 400.</summary>
    private const int DrainLimit = 4 * 1024 * 1024;

    private IResult Refuse(string source, string code, string message, int? index = null, string? field = null)
    {
        TrackingMetrics.Rejected(code);
        LogRefused(logger, source, code, index, field);
        return TrackingResults.Error(StatusCodes.Status400BadRequest, code, message, index, field);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused a tracking request from {Source}: {Code} (message {Index}, field {Field})")]
    private static partial void LogRefused(ILogger logger, string source, string code, int? index, string? field);
}
