using System.Text.Json;

namespace ScoringPlatform.Contracts;

/// <summary>Why an engagement message was rejected; the code is stable, the message is for humans.</summary>
public sealed record RejectionReason(string Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>Parses and validates raw engagement messages at the edge (Kafka, HTTP).</summary>
public static class EngagementEventParser
{
    public const int MaxIdLength = 200;

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, out EngagementEvent? evt, out RejectionReason? reason)
    {
        evt = null;
        if (utf8Json.IsEmpty)
        {
            reason = new("empty_message", "the message has no body");
            return false;
        }

        try
        {
            evt = JsonSerializer.Deserialize<EngagementEvent>(utf8Json, ContractJson.Options);
        }
        catch (JsonException ex)
        {
            reason = ex.Message.Contains("missing required properties", StringComparison.Ordinal)
                ? new("missing_field", ex.Message)
                : new("malformed_json", ex.Message);
            return false;
        }

        if (evt is null)
        {
            reason = new("malformed_json", "the message is JSON null");
            return false;
        }

        reason = Validate(evt);
        if (reason is not null)
        {
            evt = null;
            return false;
        }

        return true;
    }

    public static RejectionReason? Validate(EngagementEvent evt)
    {
        if (string.IsNullOrWhiteSpace(evt.Id))
            return new("missing_id", "'id' must be a non-empty string (it is the idempotency key)");
        if (evt.Id.Length > MaxIdLength)
            return new("invalid_id", $"'id' is longer than {MaxIdLength} characters");
        if (string.IsNullOrWhiteSpace(evt.Type))
            return new("missing_type", "'type' must be a non-empty string");
        if (!EngagementEventTypes.All.Contains(evt.Type))
            return new("unknown_type", $"'type' value '{evt.Type}' is not a known engagement event type");
        if (string.IsNullOrWhiteSpace(evt.LeadId) && string.IsNullOrWhiteSpace(evt.AnonymousId))
            return new("missing_lead", "one of 'leadId' or 'anonymousId' is required");
        if (evt.OccurredAt == default)
            return new("missing_occurred_at", "'occurredAt' must be an ISO-8601 timestamp");
        if (evt.Type == EngagementEventTypes.ProfileUpdated && evt.Traits is null)
            return new("missing_traits", "'profile_updated' requires a 'traits' object");
        if (evt.Traits?.CompanySize is < 0)
            return new("invalid_traits", "'traits.companySize' must not be negative");
        return null;
    }
}
